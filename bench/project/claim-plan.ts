// How Postgres runs the relay's claim at the end of a phase: the plan's scan, the buffers it
// touched and its time. With no statistics on the outbox (autovacuum off, never analyzed), the
// planner picks a bitmap scan plus a sort of every row the partial index still holds, dead or
// alive, since the last VACUUM; with statistics, an ordered index scan that stops at the limit.
// The query is the claiming subquery of src/db/outbox.ts's claimAndMarkPublished, with the columns the
// relay reads and without its FOR UPDATE SKIP LOCKED (EXPLAIN ANALYZE would run the update).
import type { BenchDb } from '../lib/infra.ts';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

export async function claimPlan(db: BenchDb, limit: number) {
  const [row] = await db.sql.unsafe<Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number }> }>>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
     SELECT id, aggregate_type, aggregate_id, event_type, payload, headers, created_at, attempts,
            octet_length(payload::text) AS payload_bytes
     FROM outbox
     WHERE published_at IS NULL AND dead_at IS NULL AND available_at <= now()
     ORDER BY created_at
     LIMIT ${Number(limit)}`,
  );
  const plan = row!['QUERY PLAN'][0]!;
  const nodes: string[] = [];
  const walk = (n: PlanNode) => {
    nodes.push(n['Index Name'] ? `${n['Node Type']} on ${n['Index Name']}` : n['Node Type']);
    n.Plans?.forEach(walk);
  };
  walk(plan.Plan);
  const [size] = await db.sql<{ rows: number }[]>`SELECT count(*)::int AS rows FROM outbox`;
  return {
    plan: nodes.join(' → '),
    buffers: (plan.Plan['Shared Hit Blocks'] ?? 0) + (plan.Plan['Shared Read Blocks'] ?? 0),
    executionMs: Math.round(plan['Execution Time'] * 1000) / 1000,
    outboxRows: size!.rows,
  };
}
