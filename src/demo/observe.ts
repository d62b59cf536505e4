// What the demo reads to follow its own orders: stage counts and latencies from Postgres (one
// statement each, for the demo's order ids only), job counts and the demo's jobs from BullMQ.
import type { Sql } from '../db/client.ts';
import { QUEUE_NAMES, ORDER_TOPOLOGY, type QueueName } from '../orders/topology.ts';
import type { OrderQueues as Queues } from '../orders/queues.ts';

export interface Stages {
  found: number; // the demo's orders the database has
  paid: number; // got as far as paid (delivered and delivery_failed were paid first)
  delivered: number;
  invoiced: number;
  paymentFailed: number;
  deliveryFailed: number;
  // Done for good: payment failed, or delivered/delivery failed and billed; and every event of the
  // order published (or dead), so nothing of it is still on its way.
  settled: number;
}

export const NO_STAGES: Stages = { found: 0, paid: 0, delivered: 0, invoiced: 0, paymentFailed: 0, deliveryFailed: 0, settled: 0 };

// The invoices come from the invoice service's database (`invoicesSql`, the same pool as `sql` when
// it has none of its own): read first, so an invoice is never counted for an order not yet seen.
export async function readStages(sql: Sql, invoicesSql: Sql, ids: readonly string[]): Promise<Stages> {
  if (ids.length === 0) return NO_STAGES;
  const billed = (await invoicesSql<{ order_id: string }[]>`SELECT order_id FROM invoices WHERE order_id = ANY(${ids as string[]}::uuid[])`).map((r) => r.order_id);
  const [row] = await sql<Stages[]>`
    SELECT
      count(*)::int AS found,
      count(*) FILTER (WHERE o.status IN ('paid', 'delivered', 'delivery_failed'))::int AS paid,
      count(*) FILTER (WHERE o.status = 'delivered')::int AS delivered,
      count(*) FILTER (WHERE o.id = ANY(${billed}::uuid[]))::int AS invoiced,
      count(*) FILTER (WHERE o.status = 'payment_failed')::int AS "paymentFailed",
      count(*) FILTER (WHERE o.status = 'delivery_failed')::int AS "deliveryFailed",
      count(*) FILTER (
        WHERE (o.status = 'payment_failed' OR (o.status IN ('delivered', 'delivery_failed') AND o.id = ANY(${billed}::uuid[])))
          AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.aggregate_id = o.id AND e.published_at IS NULL AND e.dead_at IS NULL)
      )::int AS settled
    FROM orders o
    WHERE o.id = ANY(${ids as string[]}::uuid[])`;
  return row ?? NO_STAGES;
}

export interface Percentiles {
  p50: number | null;
  p99: number | null;
}

export interface Latencies {
  paid: Percentiles; // order created → payment recorded
  delivered: Percentiles; // order created → delivery dispatched
}

// Server-side latencies from the rows' own timestamps (nearest rank, like percentile() in summary.ts).
export async function readLatencies(sql: Sql, ids: readonly string[]): Promise<Latencies> {
  if (ids.length === 0) return { paid: { p50: null, p99: null }, delivered: { p50: null, p99: null } };
  const [row] = await sql<Array<{ paid_p50: number | null; paid_p99: number | null; delivered_p50: number | null; delivered_p99: number | null }>>`
    WITH t AS (
      SELECT extract(epoch FROM p.created_at - o.created_at)::float8 * 1000 AS paid_ms,
             extract(epoch FROM d.dispatched_at - o.created_at)::float8 * 1000 AS delivered_ms
      FROM orders o
      LEFT JOIN payments p ON p.order_id = o.id
      LEFT JOIN deliveries d ON d.order_id = o.id
      WHERE o.id = ANY(${ids as string[]}::uuid[])
    )
    SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY paid_ms) AS paid_p50,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY paid_ms) AS paid_p99,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY delivered_ms) AS delivered_p50,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY delivered_ms) AS delivered_p99
    FROM t`;
  return {
    paid: { p50: row?.paid_p50 ?? null, p99: row?.paid_p99 ?? null },
    delivered: { p50: row?.delivered_p50 ?? null, p99: row?.delivered_p99 ?? null },
  };
}

export interface QueueCounts {
  active: number;
  waiting: number;
  delayed: number; // our jobs are added without delay, so these wait for a retry's backoff
  failed: number;
}

// Whole queues (every producer's jobs): cheap enough for every tick.
export async function readQueueCounts(queues: Queues): Promise<Record<QueueName, QueueCounts>> {
  const entries = await Promise.all(
    QUEUE_NAMES.map(async (name) => {
      const c = await queues[name].getJobCounts('active', 'waiting', 'delayed', 'failed');
      return [name, { active: c.active ?? 0, waiting: c.waiting ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 }] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<QueueName, QueueCounts>;
}

export interface JobStats {
  expected: number; // jobs the relay added for the demo's orders (one per published event and queue)
  found: number; // of those, still in Redis
  retried: number; // took more than one attempt (failed in the end or not)
  recovered: number; // of those, not in the failed set: completed after a retry (or still retrying)
  failed: number; // in the failed set
}

const JOB_READS_IN_FLIGHT = 200;

// The demo's own jobs, read once at the end: the job id is the outbox id, so the published events
// of the demo's orders name them. One HGETALL per job, plus a state check for those that failed.
export async function readDemoJobs(sql: Sql, queues: Queues, ids: readonly string[]): Promise<Record<QueueName, JobStats>> {
  const stats = Object.fromEntries(QUEUE_NAMES.map((q) => [q, { expected: 0, found: 0, retried: 0, recovered: 0, failed: 0 }])) as Record<QueueName, JobStats>;
  if (ids.length === 0) return stats;
  const events = await sql<Array<{ id: string; event_type: string }>>`
    SELECT id, event_type FROM outbox WHERE aggregate_id = ANY(${ids as string[]}::uuid[]) AND published_at IS NOT NULL`;
  const wanted: Array<[QueueName, string]> = events.flatMap((e) => (ORDER_TOPOLOGY.routeFor(e.event_type) ?? []).map((q): [QueueName, string] => [q, e.id]));
  for (let i = 0; i < wanted.length; i += JOB_READS_IN_FLIGHT) {
    await Promise.all(
      wanted.slice(i, i + JOB_READS_IN_FLIGHT).map(async ([queue, jobId]) => {
        const s = stats[queue];
        s.expected++;
        const job = await queues[queue].getJob(jobId);
        if (!job) return;
        s.found++;
        const failed = Boolean(job.finishedOn && job.failedReason) && (await job.isFailed());
        if (failed) s.failed++;
        if (job.attemptsMade > 1) {
          s.retried++;
          if (!failed) s.recovered++;
        }
      }),
    );
  }
  return stats;
}
