// invoices queue: bill a paid order once. The invoice service cannot read the order service's
// tables, so it works from the order.paid event alone, trusted because its signature holds.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import type { ConsumerSpec } from '../engine/index.ts';
import { crashPoint } from '../fault-points.ts';
import { insertInvoice, invoiceContext } from './queries.ts';

export function invoiceConsumer(): ConsumerSpec<never, 'invoices', { number: string }> {
  return {
    queue: 'invoices',
    accepts: ['order.paid'], // the order service's event
    trust: 'signature',
    context: invoiceContext,
    async handle(step) {
      if (step.context) return { outcome: 'skipped', detail: 'already invoiced' };
      const { amount_cents: amount, customer_name: customer } = step.event.payload;
      if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) {
        throw new UnrecoverableError(`event ${step.event.id} carries no amount to invoice`);
      }
      crashPoint('before-inbox-commit');
      const recorded = await step.record<{ number: string | null }>({
        effects: [insertInvoice(step.db, { id: randomUUID(), orderId: step.event.aggregateId, amountCents: amount, customerName: typeof customer === 'string' ? customer : null })],
        select: step.db`(SELECT number FROM invoice) AS number`,
      });
      if (!recorded.fresh) return { outcome: 'duplicate' };
      return recorded.number ? { outcome: 'done', detail: `invoice ${recorded.number}` } : { outcome: 'skipped', detail: 'already invoiced' };
    },
  };
}
