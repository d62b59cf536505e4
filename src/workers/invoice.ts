// invoices queue: bill a paid order once. The amount comes from the payment row, not from the job.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import { recordInvoice } from '../db/steps.ts';
import { CONSUMER_OF_QUEUE, type OutboxJobData } from '../events/routing.ts';
import { crashPoint } from '../fault-points.ts';
import { loadStep, type StepResult } from './message.ts';

export const INVOICE_CONSUMER = CONSUMER_OF_QUEUE.invoices;

export function createInvoiceProcessor(sql: Sql) {
  return async (job: Job<OutboxJobData>): Promise<StepResult> => {
    const step = await loadStep(sql, job, 'order.paid', INVOICE_CONSUMER);
    if (step.processed) return { outcome: 'duplicate' };
    if (step.order.paidCents === null) throw new UnrecoverableError(`order ${step.orderId} has no payment to invoice`);
    if (step.order.invoiced) return { outcome: 'skipped', detail: 'already invoiced' };
    crashPoint('before-inbox-commit');
    const recorded = await recordInvoice(sql, { consumer: INVOICE_CONSUMER, messageId: step.id, orderId: step.orderId, invoiceId: randomUUID(), amountCents: step.order.paidCents });
    if (!recorded.fresh) return { outcome: 'duplicate' };
    return recorded.number ? { outcome: 'done', detail: `invoice ${recorded.number}` } : { outcome: 'skipped', detail: 'already invoiced' };
  };
}
