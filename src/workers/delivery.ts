// deliveries queue: dispatch a paid order (simulated), then record the inbox row, the delivery,
// status 'delivered' and the order.delivered event in one statement.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import type { OrderStatus } from '../db/orders.ts';
import { recordDelivery } from '../db/steps.ts';
import { CONSUMER_OF_QUEUE, type OutboxJobData } from '../events/routing.ts';
import { crashPoint } from '../fault-points.ts';
import { loadStep, nextEvent, recordOrderFailure, runStep, type StepResult } from './message.ts';

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
    const step = await loadStep(sql, job, 'order.paid', DELIVERY_CONSUMER);
    return runStep(
      job,
      async () => {
        if (step.processed) return { outcome: 'duplicate' };
        if (settings.latencyMs > 0) await sleep(settings.latencyMs);
        if (random() < settings.failureRate) throw new Error('no courier answered (simulated); the job will retry');
        const courier = courierFor(step.orderId);
        crashPoint('before-inbox-commit');
        const recorded = await recordDelivery(sql, {
          consumer: DELIVERY_CONSUMER,
          messageId: step.id,
          orderId: step.orderId,
          from: DELIVERABLE,
          to: 'delivered',
          deliveryId: randomUUID(),
          courier,
          next: nextEvent(step, 'order.delivered', { courier }),
        });
        if (!recorded.fresh) return { outcome: 'duplicate' };
        if (!recorded.moved) return { outcome: 'skipped', detail: `order was ${step.order.status}` };
        settings.onDelivered?.(step.order.createdAt);
        return { outcome: 'done', detail: `courier ${courier}`, emitted: 'order.delivered' };
      },
      (err) => recordOrderFailure(sql, step, { from: ['paid'], to: 'delivery_failed', eventType: 'order.delivery_failed' }, err),
    );
  };
}
