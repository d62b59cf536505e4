// deliveries queue: dispatch a paid order (simulated), then in one transaction record the inbox
// row, the delivery, status 'delivered' and the order.delivered event.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import { insertDelivery } from '../db/effects.ts';
import { findOrderDetails, transitionOrder, type OrderStatus } from '../db/orders.ts';
import { CONSUMER_OF_QUEUE, type OutboxJobData } from '../events/routing.ts';
import { runOnce } from './inbox.ts';
import { emitOrderEvent, loadMessage, recordOrderFailure, runStep, type StepResult } from './message.ts';

export const DELIVERY_CONSUMER = CONSUMER_OF_QUEUE.deliveries;
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

export function createDeliveryProcessor(sql: Sql, settings: DispatchSettings) {
  const random = settings.random ?? Math.random;
  return async (job: Job<OutboxJobData>): Promise<StepResult> => {
    const message = await loadMessage(sql, job, 'order.paid');
    return runStep(
      job,
      async () => {
        const order = await findOrderDetails(sql, message.orderId);
        if (!order) throw new UnrecoverableError(`order ${message.orderId} does not exist`);
        if (settings.latencyMs > 0) await sleep(settings.latencyMs);
        if (random() < settings.failureRate) throw new Error('no courier answered (simulated); the job will retry');
        const courier = courierFor(order.id);
        const result = await runOnce(sql, DELIVERY_CONSUMER, message.id, async (tx) => {
          if (!(await transitionOrder(tx, order.id, DELIVERABLE, 'delivered'))) return false;
          await insertDelivery(tx, { id: randomUUID(), orderId: order.id, courier });
          await emitOrderEvent(tx, message, 'order.delivered', { courier });
          return true;
        });
        if (result.outcome === 'duplicate') return { outcome: 'duplicate' };
        if (!result.value) return { outcome: 'skipped', detail: `order was ${order.status}` };
        settings.onDelivered?.(order.created_at);
        return { outcome: 'done', detail: `courier ${courier}` };
      },
      (err) => recordOrderFailure(sql, message, { from: ['paid'], to: 'delivery_failed', eventType: 'order.delivery_failed' }, err),
    );
  };
}
