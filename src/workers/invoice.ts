// invoices queue: bill a paid order once. The amount comes from the payment row, not from the job.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import { insertInvoice } from '../db/effects.ts';
import { findOrderDetails } from '../db/orders.ts';
import { CONSUMER_OF_QUEUE, type OutboxJobData } from '../events/routing.ts';
import { runOnce } from './inbox.ts';
import { loadMessage, type StepResult } from './message.ts';

export const INVOICE_CONSUMER = CONSUMER_OF_QUEUE.invoices;

export function createInvoiceProcessor(sql: Sql) {
  return async (job: Job<OutboxJobData>): Promise<StepResult> => {
    const message = await loadMessage(sql, job, 'order.paid');
    const order = await findOrderDetails(sql, message.orderId);
    if (!order?.payment) throw new UnrecoverableError(`order ${message.orderId} has no payment to invoice`);
    if (order.invoice) return { outcome: 'skipped', detail: `already invoiced as ${order.invoice.number}` };
    const amountCents = order.payment.amount_cents;
    const result = await runOnce(sql, INVOICE_CONSUMER, message.id, (tx) => insertInvoice(tx, { id: randomUUID(), orderId: message.orderId, amountCents }));
    return result.outcome === 'duplicate' ? { outcome: 'duplicate' } : { outcome: 'done', detail: `invoice ${result.value}` };
  };
}
