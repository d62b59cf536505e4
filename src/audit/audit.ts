// The audit oracle: checks across Postgres and Redis that nothing was lost or done twice.
//
//   lost        work that should have finished by now and did not (orders, events, invoices,
//               payment and delivery rows their status promises)
//   duplicated  an order with more than one charge, payment, delivery or invoice
//   unexpected  effect rows without their order (also invoices, which have no foreign key to
//               orders); jobs the relay did not add
//   stuck       dead outbox rows, failed jobs, jobs active past the lock: need a person, but are
//               not violations unless `strict`
//   recovered   failures that healed: events published after a retry, jobs completed after a retry
//
// Every check is one statement (or one statement per page of jobs) in its own snapshot, so the
// audit can run against a live system. That is safe because each check compares rows that commit
// together (an order's status and its payment) or that are ordered in time (an outbox row
// commits before the relay adds its job, so a job read first always finds its row). Time-based
// checks only look at what is older than `settleMs`, so work in flight is not reported.
//
// The invoice service may keep its invoices in its own database (INVOICES_DATABASE_URL, passed as
// `invoicesSql`). Postgres cannot join across databases, so the checks that read invoices then
// read one side in pages of ids and look each page up in the other (queries-across.ts): orders
// first and their invoices after for a missing invoice, invoices first and their orders after for
// an invoice without its order. Each side is read after what it depends on committed, so work in
// flight is again never reported; a page is one statement, so, as with jobs, a row that changes
// while the audit pages may be seen twice or missed. Duplicate invoices are not looked for there:
// UNIQUE(order_id) in the invoices table rules them out.
//
// Limits, by design: counts are findings, not distinct orders (a stuck order and its unpublished
// event are two); a job that changes state while the audit pages through Redis may be seen twice
// or, rarely, missed, so run it on a settled system when exact job counts matter; after Redis
// loses jobs, their orders count as lost until the reconciler re-publishes them
// (RECONCILE_AFTER_MS), so choose a settle time above that when auditing such a fault.
import type { Sql } from '../db/client.ts';
import type { OrderQueues as Queues } from '../orders/queues.ts';
import { scanJobs } from './jobs.ts';
import * as q from './queries.ts';
import { findOrphanEffectsAcross, findUninvoicedOrdersAcross, LOOKUP_PAGE_SIZE } from './queries-across.ts';
import * as r from './reasons.ts';
import { createCollector, isOk, type AuditItem, type AuditReport, type Category, type FindingCollector } from './report.ts';

export type { AuditItem, AuditKind, AuditReport, Category } from './report.ts';

export interface AuditOptions {
  sql: Sql;
  // The invoice service's database when it has its own (INVOICES_DATABASE_URL). Absent, or the
  // same pool as `sql`: the invoices are in `sql`'s database and checked with joins.
  invoicesSql?: Sql | undefined;
  queues: Queues;
  // How long the pipeline may take before unfinished work counts as lost.
  settleMs: number;
  // Workers' BullMQ lock duration: a job active for longer has probably lost its worker.
  lockDurationMs: number;
  // The audit's clock; defaults to the database's now(), so the audit host's clock does not matter.
  now?: Date;
  // Most items listed per category (all are counted). Default 100.
  limit?: number;
  // Count stuck findings as violations too. Default false.
  strict?: boolean;
  // Jobs read from Redis per page. Default 500.
  pageSize?: number;
  // Ids per lookup in the other database when the invoices have their own. Default 1000.
  lookupPageSize?: number;
  // The relay's outbox retention (OUTBOX_RETENTION_S): a job added before now minus this may have
  // outlived its pruned row, which is then no violation. Default: no retention, every job is checked.
  outboxRetentionMs?: number;
}

export const DEFAULT_LIMIT = 100;

export async function runAudit(opts: AuditOptions): Promise<AuditReport> {
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  const strict = opts.strict ?? false;
  const counted = await q.countRowsAndNow(opts.sql);
  const now = opts.now ?? counted.now;
  const collector = createCollector(limit);

  await checkDatabase(opts, now, limit, collector);
  const jobs = await scanJobs({
    queues: opts.queues,
    findEventTypes: (ids) => q.findEventTypes(opts.sql, ids),
    onFinding: (f) => collector.add(f.category, f.item),
    nowMs: now.getTime(),
    lockDurationMs: opts.lockDurationMs,
    // Retention deletes a row by its creation, and goes on deleting while the audit runs; a job is
    // added after its row by the relay's lag, which an outage makes long. So a job added a little
    // after the horizon may have lost its row to retention too: its row is not asked for within
    // a margin (the settle time, at least a minute) past the horizon.
    prunedBeforeMs: opts.outboxRetentionMs === undefined ? undefined : now.getTime() - opts.outboxRetentionMs + Math.max(opts.settleMs, 60_000),
    pageSize: opts.pageSize,
  });

  const counts = collector.counts();
  return {
    ok: isOk(counts, strict),
    strict,
    checkedAt: now.toISOString(),
    settleMs: opts.settleMs,
    lockDurationMs: opts.lockDurationMs,
    counts,
    items: collector.items(),
    limit,
    totals: { orders: counted.orders, outboxRows: counted.outbox_rows, jobsScanned: jobs.scanned, jobsPastRetention: jobs.pastRetention },
  };
}

// The Postgres checks, run one after another so the audit takes one connection at a time.
async function checkDatabase(opts: AuditOptions, now: Date, limit: number, collector: FindingCollector): Promise<void> {
  const { sql, settleMs } = opts;
  // Set only when the invoices are in another database.
  const invoicesSql = opts.invoicesSql && opts.invoicesSql !== sql ? opts.invoicesSql : undefined;
  const pageSize = opts.lookupPageSize ?? LOOKUP_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`lookupPageSize must be a positive integer, got ${pageSize}`);
  const cutoff = new Date(now.getTime() - settleMs);
  // At least one row even with limit 0, so `total` still comes back; the extra item is dropped by the collector.
  const n = Math.max(limit, 1);
  const checks = [
    check(
      'lost',
      () => q.findUnsettledOrders(sql, cutoff, n),
      (row) => r.unsettledOrderItem(row, now, settleMs),
    ),
    check(
      'lost',
      () => q.findUnpublishedEvents(sql, cutoff, n),
      (row) => r.unpublishedEventItem(row, now),
    ),
    check(
      'lost',
      () => (invoicesSql ? findUninvoicedOrdersAcross(sql, invoicesSql, cutoff, n, pageSize) : q.findUninvoicedOrders(sql, cutoff, n)),
      (row) => r.uninvoicedOrderItem(row, now),
    ),
    check('lost', () => q.findPaidWithoutPayment(sql, n), r.missingPaymentItem),
    check('lost', () => q.findChargesWithoutPayment(sql, cutoff, n), r.chargeWithoutPaymentItem),
    check('lost', () => q.findDeliveredWithoutDelivery(sql, n), r.missingDeliveryItem),
    check('duplicated', () => q.findDuplicateEffects(sql, n, { invoices: !invoicesSql }), r.duplicateEffectItem),
    check('unexpected', () => (invoicesSql ? findOrphanEffectsAcross(sql, invoicesSql, n, pageSize) : q.findOrphanEffects(sql, n)), r.orphanEffectItem),
    check('stuck', () => q.findDeadEvents(sql, n), r.deadEventItem),
    check('recovered', () => q.findRetriedPublishedEvents(sql, n), r.retriedEventItem),
  ];
  for (const c of checks) await c(collector);
}

// Binds a query to its item mapper, keeping the row type between the two.
function check<Row extends { total: number }>(category: Category, run: () => Promise<Row[]>, toItem: (row: Row) => AuditItem) {
  return async (collector: FindingCollector) => {
    const rows = await run();
    collector.addCounted(category, rows[0]?.total ?? 0, rows.map(toItem));
  };
}
