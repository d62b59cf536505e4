// payments queue: charge the order's total (read from the database) at the gateway, then in one
// transaction record the inbox row, the payment, status 'paid' and the order.paid event.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import { insertPayment, isMessageProcessed } from '../db/effects.ts';
import { findOrderDetails, transitionOrder, type OrderStatus } from '../db/orders.ts';
import { CONSUMER_OF_QUEUE, type OutboxJobData } from '../events/routing.ts';
import { PaymentDeclinedError, type PaymentGateway } from './gateway.ts';
import { crashPoint } from '../fault-points.ts';
import { runOnce } from './inbox.ts';
import { emitOrderEvent, loadMessage, recordOrderFailure, runStep, type StepResult } from './message.ts';

export const PAYMENT_CONSUMER = CONSUMER_OF_QUEUE.payments;
// An operator may retry a failed payment from the dashboard, so 'payment_failed' can still be paid.
const PAYABLE: readonly OrderStatus[] = ['pending_payment', 'payment_failed'];

export function createPaymentProcessor(sql: Sql, gateway: PaymentGateway) {
  return async (job: Job<OutboxJobData>): Promise<StepResult> => {
    const message = await loadMessage(sql, job, 'order.created');
    return runStep(
      job,
      async () => {
        if (await isMessageProcessed(sql, PAYMENT_CONSUMER, message.id)) return { outcome: 'duplicate' };
        const order = await findOrderDetails(sql, message.orderId);
        if (!order) throw new UnrecoverableError(`order ${message.orderId} does not exist`);
        if (!PAYABLE.includes(order.status)) return { outcome: 'skipped', detail: `order is ${order.status}` };

        let charge;
        try {
          // The message id is the idempotency key: a retry after a crash between this call and the
          // commit below gets the first charge back instead of a second one.
          charge = await gateway.charge({ idempotencyKey: message.id, orderId: order.id, amountCents: order.total_cents });
        } catch (err) {
          if (err instanceof PaymentDeclinedError) throw new UnrecoverableError(err.message);
          throw err;
        }

        crashPoint('after-charge');
        const result = await runOnce(sql, PAYMENT_CONSUMER, message.id, async (tx) => {
          if (!(await transitionOrder(tx, order.id, PAYABLE, 'paid'))) return false;
          await insertPayment(tx, { id: randomUUID(), orderId: order.id, chargeId: charge.chargeId, amountCents: charge.amountCents });
          await emitOrderEvent(tx, message, 'order.paid', { charge_id: charge.chargeId, amount_cents: charge.amountCents });
          return true;
        });
        if (result.outcome === 'duplicate') return { outcome: 'duplicate' };
        return result.value ? { outcome: 'done', detail: `charge ${charge.chargeId}` } : { outcome: 'skipped', detail: 'order moved on' };
      },
      (err) => recordOrderFailure(sql, message, { from: ['pending_payment'], to: 'payment_failed', eventType: 'order.payment_failed' }, err),
    );
  };
}
