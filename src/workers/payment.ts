// payments queue: charge the order's total (read from the database) at the gateway, then record the
// inbox row, the payment, status 'paid' and the order.paid event in one statement.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import type { OrderStatus } from '../db/orders.ts';
import { recordPayment } from '../db/steps.ts';
import { CONSUMER_OF_QUEUE, type OutboxJobData } from '../events/routing.ts';
import { crashPoint } from '../fault-points.ts';
import { PaymentDeclinedError, type PaymentGateway } from './gateway.ts';
import { loadStep, nextEvent, recordOrderFailure, runStep, type StepResult } from './message.ts';

export const PAYMENT_CONSUMER = CONSUMER_OF_QUEUE.payments;
// An operator may retry a failed payment from the dashboard, so 'payment_failed' can still be paid.
const PAYABLE: readonly OrderStatus[] = ['pending_payment', 'payment_failed'];

export function createPaymentProcessor(sql: Sql, gateway: PaymentGateway) {
  return async (job: Job<OutboxJobData>): Promise<StepResult> => {
    const step = await loadStep(sql, job, 'order.created', PAYMENT_CONSUMER);
    return runStep(
      job,
      async () => {
        if (step.processed) return { outcome: 'duplicate' };
        if (!PAYABLE.includes(step.order.status)) return { outcome: 'skipped', detail: `order is ${step.order.status}` };

        let charge;
        try {
          // The message id is the idempotency key: a retry after a crash between this call and the
          // record below gets the first charge back instead of a second one.
          charge = await gateway.charge({ idempotencyKey: step.id, orderId: step.orderId, amountCents: step.order.totalCents });
        } catch (err) {
          if (err instanceof PaymentDeclinedError) throw new UnrecoverableError(err.message);
          throw err;
        }

        crashPoint('after-charge');
        crashPoint('before-inbox-commit');
        const recorded = await recordPayment(sql, {
          consumer: PAYMENT_CONSUMER,
          messageId: step.id,
          orderId: step.orderId,
          from: PAYABLE,
          to: 'paid',
          paymentId: randomUUID(),
          chargeId: charge.chargeId,
          amountCents: charge.amountCents,
          next: nextEvent(step, 'order.paid', { charge_id: charge.chargeId, amount_cents: charge.amountCents }),
        });
        if (!recorded.fresh) return { outcome: 'duplicate' };
        return recorded.moved ? { outcome: 'done', detail: `charge ${charge.chargeId}`, emitted: 'order.paid' } : { outcome: 'skipped', detail: 'order moved on' };
      },
      (err) => recordOrderFailure(sql, step, { from: ['pending_payment'], to: 'payment_failed', eventType: 'order.payment_failed' }, err),
    );
  };
}
