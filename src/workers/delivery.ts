// deliveries queue: dispatch a paid order (simulated), then record the inbox row, the delivery,
// status 'delivered' and the order.delivered event in one statement.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError } from 'bullmq';
import type { ConsumerSpec } from '../engine/index.ts';
import type { OrderStatus } from '../db/orders.ts';
import { insertDelivery, moveOrder, orderContext, type OrderContext } from '../db/steps.ts';
import { crashPoint } from '../fault-points.ts';
import type { OrderEventType, QueueName } from '../orders/topology.ts';
import { recordOrderFailure } from './order-failure.ts';

const DELIVERABLE: readonly OrderStatus[] = ['paid', 'delivery_failed'];
const COURIERS = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken'];

export interface DispatchSettings {
  latencyMs: number;
  failureRate: number;
  random?: () => number;
  onDelivered?: (orderCreatedAt: Date) => void;
}

export function courierFor(orderId: string): string {
  let h = 0;
  for (const ch of orderId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return COURIERS[h % COURIERS.length]!;
}

export function deliveryConsumer(settings: DispatchSettings): ConsumerSpec<OrderEventType, QueueName, OrderContext> {
  const random = settings.random ?? Math.random;
  return {
    queue: 'deliveries',
    accepts: ['order.paid'],
    trust: 'outbox',
    context: orderContext,
    async handle(step) {
      const order = step.context;
      if (!order) throw new UnrecoverableError(`outbox event ${step.event.id} names an order that does not exist`);
      if (settings.latencyMs > 0) await sleep(settings.latencyMs);
      if (random() < settings.failureRate) throw new Error('no courier answered (simulated); the job will retry');
      const orderId = step.event.aggregateId;
      const courier = courierFor(orderId);
      crashPoint('before-inbox-commit');
      const recorded = await step.record<{ moved: boolean }>({
        effects: [moveOrder(step.db, orderId, DELIVERABLE, 'delivered'), insertDelivery(step.db, { id: randomUUID(), courier })],
        emit: [{ event: step.next('order.delivered', { order_id: orderId, courier }), when: 'moved' }],
        select: step.db`EXISTS (SELECT 1 FROM moved) AS moved`,
      });
      if (!recorded.fresh) return { outcome: 'duplicate' };
      if (!recorded.moved) return { outcome: 'skipped', detail: `order was ${order.status}` };
      settings.onDelivered?.(new Date(order.created_at));
      return { outcome: 'done', detail: `courier ${courier}` };
    },
    onGiveUp: (step, err) => recordOrderFailure(step, { from: ['paid'], to: 'delivery_failed', eventType: 'order.delivery_failed' }, err),
  };
}
