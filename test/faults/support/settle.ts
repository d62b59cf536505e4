// The fault tests' oracle: wait (bounded) until the system is quiet and the audit comes out clean,
// then check each acknowledged order by hand as well.
import { runAudit, type AuditReport } from '../../../src/audit/audit.ts';
import { formatSummary } from '../../../src/audit/summary.ts';
import { createCommandConnection } from '../../../src/redis/connection.ts';
import { closeQueues } from '../../../src/redis/queues.ts';
import { createOrderQueues, type OrderQueues as Queues } from '../../../src/orders/queues.ts';
import { QUEUE_NAMES } from '../../../src/orders/topology.ts';
import type { TestContext } from '../../support/context.ts';
import { LOCK_DURATION_MS } from './env.ts';

export interface AuditQueues {
  queues: Queues;
  close(): Promise<void>;
}

// The test's own view of the queues (a fail-fast connection to the test's Redis).
export function openQueues(ctx: TestContext): AuditQueues {
  const redis = createCommandConnection(ctx.config, ctx.log, 'fault-test');
  const queues = createOrderQueues(redis, ctx.config);
  return {
    queues,
    async close() {
      await closeQueues(queues).catch(() => {});
      redis.disconnect();
    },
  };
}

// Jobs still to run in any queue (waiting, active, delayed for a retry, …).
export async function pendingJobs(queues: Queues): Promise<number> {
  let n = 0;
  for (const name of QUEUE_NAMES) {
    const counts = await queues[name].getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children');
    n += Object.values(counts).reduce((a, b) => a + b, 0);
  }
  return n;
}

// Waits until no job is left to run and the audit (settle time 0: anything unfinished counts as
// lost) reports no violation, then returns that report. Fails after `timeoutMs` with the last
// audit's summary.
export async function settle(ctx: TestContext, queues: Queues, timeoutMs = 60_000): Promise<AuditReport> {
  const deadline = Date.now() + timeoutMs;
  let last: AuditReport | undefined;
  let lastError: unknown;
  let pending = -1;
  while (Date.now() < deadline) {
    try {
      pending = await pendingJobs(queues);
      if (pending === 0) {
        last = await runAudit({ sql: ctx.sql, invoicesSql: ctx.invoicesSql, queues, settleMs: 0, lockDurationMs: LOCK_DURATION_MS, limit: 20 });
        if (last.ok) return last;
      }
    } catch (err) {
      lastError = err; // Redis or Postgres still away
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const why = last ? formatSummary(last) : `no audit ran (pending jobs: ${pending}, last error: ${String(lastError)})`;
  throw new Error(`the system did not settle within ${timeoutMs} ms; pending jobs ${pending}\n${why}`);
}

export interface OrderProblem {
  id: string;
  status: string | null;
  total_cents: number | null;
  charges: number;
  charged_cents: number;
  payments: number;
  deliveries: number;
  invoices: number;
}

// Every acknowledged order exists, is delivered, and was charged its own total once, with one
// payment, delivery and invoice. Returns the orders for which that is not so (expect []). The
// invoices are read through ctx.invoicesSql (the invoice service's own database, or the same one)
// and compared with the orders here, so this works whichever way the test was set up.
export async function notExactlyOnce(ctx: TestContext, ids: readonly string[]): Promise<OrderProblem[]> {
  const orders = await ctx.sql<(Omit<OrderProblem, 'invoices'> & { order_ok: boolean })[]>`
    SELECT i.id, o.status, o.total_cents,
      (SELECT count(*) FROM gateway_charges c WHERE c.order_id = i.id)::int AS charges,
      (SELECT coalesce(sum(c.amount_cents), 0) FROM gateway_charges c WHERE c.order_id = i.id)::int AS charged_cents,
      (SELECT count(*) FROM payments p WHERE p.order_id = i.id)::int AS payments,
      (SELECT count(*) FROM deliveries d WHERE d.order_id = i.id)::int AS deliveries,
      coalesce(o.status = 'delivered'
        AND (SELECT count(*) FROM gateway_charges c WHERE c.order_id = i.id) = 1
        AND (SELECT coalesce(sum(c.amount_cents), 0) FROM gateway_charges c WHERE c.order_id = i.id) = o.total_cents
        AND (SELECT count(*) FROM payments p WHERE p.order_id = i.id AND p.amount_cents = o.total_cents) = 1
        AND (SELECT count(*) FROM deliveries d WHERE d.order_id = i.id) = 1, false) AS order_ok
    FROM unnest(${ids as string[]}::uuid[]) AS i(id)
    LEFT JOIN orders o ON o.id = i.id`;
  const invoices = await ctx.invoicesSql<{ order_id: string; amount_cents: number }[]>`
    SELECT order_id, amount_cents FROM invoices WHERE order_id = ANY(${ids as string[]}::uuid[])`;
  const byOrder = new Map<string, number[]>();
  for (const v of invoices) byOrder.set(v.order_id, [...(byOrder.get(v.order_id) ?? []), v.amount_cents]);
  return orders.flatMap(({ order_ok, ...o }) => {
    const amounts = byOrder.get(o.id) ?? [];
    const invoicedOnce = amounts.filter((cents) => cents === o.total_cents).length === 1;
    return order_ok && invoicedOnce ? [] : [{ ...o, invoices: amounts.length }];
  });
}

export const NO_VIOLATIONS = { lost: 0, duplicated: 0, unexpected: 0 };
