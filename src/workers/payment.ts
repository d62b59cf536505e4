// payments queue: charge the order's total (read from the database, never from the job) at the
// gateway, then record the inbox row, the payment, status 'paid' and order.paid in one statement.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import type { ConsumerSpec } from '../engine/index.ts';
import type { OrderStatus } from '../db/orders.ts';
import { insertPayment, moveOrder, orderContext, type OrderContext } from '../db/steps.ts';
import { crashPoint } from '../fault-points.ts';
import type { OrderEventType, QueueName } from '../orders/topology.ts';
import { PaymentDeclinedError, type PaymentGateway } from './gateway.ts';
import { recordOrderFailure } from './order-failure.ts';

// An operator may retry a failed payment from the dashboard, so 'payment_failed' can still be paid.
const PAYABLE: readonly OrderStatus[] = ['pending_payment', 'payment_failed'];

export function paymentConsumer(gateway: PaymentGateway): ConsumerSpec<OrderEventType, QueueName, OrderContext> {
  return {
    queue: 'payments',
    accepts: ['order.created'],
    trust: 'outbox',
    context: orderContext,
    async handle(step) {
      const order = step.context;
      if (!order) throw new UnrecoverableError(`outbox event ${step.event.id} names an order that does not exist`);
      if (!PAYABLE.includes(order.status)) return { outcome: 'skipped', detail: `order is ${order.status}` };
      const orderId = step.event.aggregateId;
      let charge;
      try {
        // The message id is the idempotency key: a retry after a crash between this call and the
        // record below gets the first charge back instead of a second one.
        charge = await gateway.charge({ idempotencyKey: step.event.id, orderId, amountCents: order.total_cents });
      } catch (err) {
        if (err instanceof PaymentDeclinedError) throw new UnrecoverableError(err.message); // BullMQ's error takes no cause: the message is all it keeps
        throw err;
      }
      crashPoint('after-charge');
      crashPoint('before-inbox-commit');
      const paid = { order_id: orderId, charge_id: charge.chargeId, amount_cents: charge.amountCents, customer_name: order.customer_name };
      const recorded = await step.record<{ moved: boolean }>({
        effects: [moveOrder(step.db, orderId, PAYABLE, 'paid'), insertPayment(step.db, { id: randomUUID(), chargeId: charge.chargeId, amountCents: charge.amountCents })],
        emit: [{ event: step.next('order.paid', paid), when: 'moved' }],
        select: step.db`EXISTS (SELECT 1 FROM moved) AS moved`,
      });
      if (!recorded.fresh) return { outcome: 'duplicate' };
      return recorded.moved ? { outcome: 'done', detail: `charge ${charge.chargeId}` } : { outcome: 'skipped', detail: 'order moved on' };
    },
    onGiveUp: (step, err) => recordOrderFailure(step, { from: ['pending_payment'], to: 'payment_failed', eventType: 'order.payment_failed' }, err),
  };
}
