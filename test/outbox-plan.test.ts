// The relay's claim query must keep walking the partial index of unpublished rows, however large
// the table of published rows grows.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimAndMarkPublished, type ClaimOrder } from '../src/db/outbox.ts';
import { createTestContext, scaled, type TestContext } from './support/context.ts';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
  // 200k published rows and a few hundred pending ones, as after a long sustained run.
  await ctx.sql`
    INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, published_at, confirmed_at)
    SELECT gen_random_uuid(), 'order', gen_random_uuid(), 'order.created', '{}', now() - make_interval(secs => g), now(), now()
    FROM generate_series(1, 200000) AS g`;
  await ctx.sql`
    INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
    SELECT gen_random_uuid(), 'order', gen_random_uuid(), 'order.created', '{}' FROM generate_series(1, 300)`;
  await ctx.sql`ANALYZE outbox`;
}, scaled(120_000));

afterAll(async () => {
  await ctx?.cleanup();
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

// The exact text claimAndMarkPublished sends, caught with postgres.js's debug hook, so the test explains
// the relay's real statement rather than a copy of it.
async function claimStatement(order: ClaimOrder): Promise<string> {
  const seen: string[] = [];
  const spy = postgres(ctx.config.DATABASE_URL, { max: 1, onnotice: () => {}, debug: (_conn, query) => seen.push(query) });
  try {
    await spy.begin((tx) => claimAndMarkPublished(tx, 200, order, ['order.delivered']));
  } finally {
    await spy.end();
  }
  return seen.find((q) => q.includes('SKIP LOCKED'))!;
}

describe('the claim query', () => {
  it.each(['oldest', 'newest'] as const)('claiming %s first uses the partial index of unpublished rows, never a scan of the whole table', async (order) => {
    const statement = await claimStatement(order);
    const plan = await ctx.sql.begin(async (tx) => {
      const [row] = await tx.unsafe(`EXPLAIN (FORMAT JSON) ${statement}`, [['order.delivered'], 200]);
      return (row as unknown as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
    });
    const all = nodes(plan);
    expect(all.some((n) => n['Index Name'] === 'outbox_unpublished_idx')).toBe(true);
    expect(all.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'outbox')).toBe(false);
  });
});
