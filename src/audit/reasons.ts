// Turns the rows the database checks find into report items whose reason says what went wrong and
// what to do next. Pure functions, so the wording is unit-tested without a database.
import { ORDER_TOPOLOGY } from '../orders/topology.ts';
import type { DuplicateEffectRow, OrderFinding, OrphanEffectRow, OutboxRowFinding, UnsettledOrderRow } from './queries.ts';
import type { AuditItem } from './report.ts';

const UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

// "450ms", "30s", "2m 5s", "3h 20m", "1d 4h": the two largest units are enough to act on.
export function formatDuration(ms: number): string {
  const abs = Math.max(0, Math.round(ms));
  if (abs < 1000) return `${abs}ms`;
  const parts: Array<[number, string]> = [];
  let rest = abs;
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push([n, unit]);
  }
  return parts
    .slice(0, 2)
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n}${unit}`)
    .join(' ');
}

const queuesOf = (eventType: string) => ORDER_TOPOLOGY.routeFor(eventType)?.join(' and ') || 'no queue';
const requeue = (id: string) => `npm run outbox -- requeue ${id}`;
const replay = (id: string) => `npm run outbox -- replay ${id}`;

export function unsettledOrderItem(row: UnsettledOrderRow, now: Date, settleMs: number): AuditItem {
  const age = formatDuration(now.getTime() - row.created_at.getTime());
  const head = `order is still ${row.status} ${age} after it was placed (settle time ${formatDuration(settleMs)})`;
  return {
    kind: 'order_not_final',
    orderId: row.id,
    ...(row.event_id ? { outboxId: row.event_id } : {}),
    reason: `${head}; ${whereItStopped(row)}`,
  };
}

function whereItStopped(row: UnsettledOrderRow): string {
  if (!row.event_id || !row.event_type) return 'it has no outbox event, so nothing will move it on: it was written without one (or retention pruned it, past OUTBOX_RETENTION_S)';
  const event = `its latest event ${row.event_type} ${row.event_id}`;
  if (row.dead_at) return `${event} is dead (${row.last_error ?? 'no error recorded'}): fix the cause, then ${requeue(row.event_id)}`;
  if (!row.published_at) return `${event} is not published yet: check that a relay is running and can reach Redis`;
  return (
    `${event} was published at ${row.published_at.toISOString()}: look up job ${row.event_id} in ${queuesOf(row.event_type)} (Bull Board, /admin/queues); ` +
    `retry it if it failed; if Redis lost it, the reconciler re-publishes it RECONCILE_AFTER_MS after publication, or ${replay(row.event_id)}`
  );
}

export function unpublishedEventItem(row: OutboxRowFinding, now: Date): AuditItem {
  const age = formatDuration(now.getTime() - row.created_at.getTime());
  const tried = row.attempts > 0 ? ` after ${row.attempts} failed attempt(s), last error: ${row.last_error ?? 'none recorded'}` : '';
  return {
    kind: 'outbox_unpublished',
    outboxId: row.id,
    orderId: row.aggregate_id,
    reason: `${row.event_type} is still unpublished ${age} after it was written${tried}: check that a relay is running and can reach Redis`,
  };
}

export function uninvoicedOrderItem(row: OrderFinding, now: Date): AuditItem {
  const age = formatDuration(now.getTime() - row.updated_at.getTime());
  const next = row.event_id
    ? `look up job ${row.event_id} in queue invoices; retry it if it failed, or ${replay(row.event_id)} if Redis no longer has it`
    : 'its order.paid event is missing (never written, or pruned by retention), so no invoices job can bill it';
  return {
    kind: 'invoice_missing',
    orderId: row.id,
    ...(row.event_id ? { outboxId: row.event_id, queue: 'invoices', jobId: row.event_id } : {}),
    reason: `order has been ${row.status} for ${age} but has no invoice: the invoice consumer lost it; ${next}`,
  };
}

export function missingPaymentItem(row: OrderFinding): AuditItem {
  return {
    kind: 'payment_missing',
    orderId: row.id,
    reason: `order is ${row.status} but has no payments row, though the two commit together: the row was deleted or the status set by hand; compare with gateway_charges for this order`,
  };
}

export function chargeWithoutPaymentItem(row: OrderFinding): AuditItem {
  return {
    kind: 'charge_without_payment',
    orderId: row.id,
    ...(row.event_id ? { outboxId: row.event_id } : {}),
    reason:
      `the gateway charged this order but it has no payment (order is ${row.status}): refund the charge or retry the payment job ${row.event_id ?? ''} from the dashboard (the gateway returns the same charge)`.trim(),
  };
}

export function missingDeliveryItem(row: OrderFinding): AuditItem {
  return {
    kind: 'delivery_missing',
    orderId: row.id,
    reason: 'order is delivered but has no deliveries row, though the two commit together: the row was deleted or the status set by hand',
  };
}

export function duplicateEffectItem(row: DuplicateEffectRow): AuditItem {
  const what =
    row.effect === 'gateway_charges'
      ? 'the customer was charged more than once: refund all but the first charge'
      : `the effect happened more than once: keep the first row, remove the others`;
  return {
    kind: 'duplicate_effect',
    orderId: row.order_id,
    table: row.effect,
    rowIds: row.ids,
    reason: `${row.ids.length} ${row.effect} rows for one order; ${what}, then find how the message got past the inbox (processed_messages)`,
  };
}

export function orphanEffectItem(row: OrphanEffectRow): AuditItem {
  const what = row.effect === 'gateway_charges' ? 'a charge nobody ordered: refund it' : 'remove the row';
  return {
    kind: 'orphan_effect',
    orderId: row.order_id,
    table: row.effect,
    rowIds: [row.id],
    reason: `${row.effect} row ${row.id} names order ${row.order_id}, which does not exist; ${what}`,
  };
}

export function deadEventItem(row: OutboxRowFinding): AuditItem {
  return {
    kind: 'outbox_dead',
    outboxId: row.id,
    orderId: row.aggregate_id,
    reason: `${row.event_type} is dead after ${row.attempts} attempt(s): ${row.last_error ?? 'no error recorded'}; fix the cause, then ${requeue(row.id)}`,
  };
}

export function retriedEventItem(row: OutboxRowFinding): AuditItem {
  const healed = [
    row.attempts > 0 && `after ${row.attempts} failed publish attempt(s)`,
    row.republished > 0 && `after the reconciler re-published it ${row.republished} time(s) (Redis had lost its job)`,
  ].filter(Boolean);
  return {
    kind: 'outbox_publish_retried',
    outboxId: row.id,
    orderId: row.aggregate_id,
    reason: `${row.event_type} was published at ${row.published_at?.toISOString() ?? '?'} ${healed.join(' and ')}`,
  };
}
