// Redis loses jobs after their rows were marked published: the reconciler finds them and
// publishes them again; jobId and the inbox keep every effect single.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { effectCounts, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
const running: RunningSystem[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ RECONCILE_AFTER_MS: '300', RECONCILE_INTERVAL_MS: '100' });
});

afterAll(async () => {
  for (const s of running) await s.stop();
  await ctx?.cleanup();
});

async function flushQueues(): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${ctx.config.QUEUE_PREFIX}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await ctx.redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

async function placeOrders(system: RunningSystem, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await postJson(`${system.url}/orders`, {
      customer_name: `Lost ${i}`,
      address: '3 Flush Ave',
      items: [{ flavor: 'Marinara', size: 'medium', quantity: 1 + (i % 5), unit_price_cents: 1200 }],
    });
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

const deliveredCount = async (ids: string[]) => {
  const [row] = await ctx.sql`SELECT count(*)::int AS n FROM orders WHERE id = ANY(${ids}::uuid[]) AND status = 'delivered'`;
  return row!.n;
};

describe('the reconciler', () => {
  it('re-publishes rows whose jobs Redis lost before any worker ran them', async () => {
    // API and relay only: jobs pile up in Redis, marked published in Postgres.
    const front = await startSystem(ctx, ['api', 'relay']);
    running.push(front);
    const ids = await placeOrders(front, 20);
    await waitFor('all order.created rows to be published', async () => {
      const [row] = await ctx.sql`SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[]) AND published_at IS NOT NULL`;
      return row!.n === ids.length;
    });
    expect(await flushQueues()).toBeGreaterThan(0); // Redis loses everything

    const workers = await startSystem(ctx, ['workers']);
    running.push(workers);
    await waitFor('every order to be delivered after re-publication', async () => (await deliveredCount(ids)) === ids.length, 30_000);
    for (const id of ids) expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
    const [row] = await ctx.sql`SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[]) AND republished > 0`;
    expect(row!.n).toBeGreaterThanOrEqual(ids.length);
  });

  it('confirms finished rows, so losing Redis afterwards changes nothing', async () => {
    const [system] = running;
    const ids = await placeOrders(system!, 5);
    await waitFor('the orders to be delivered', async () => (await deliveredCount(ids)) === ids.length);
    await waitFor('every event of the orders to be confirmed', async () => {
      const [row] = await ctx.sql`
        SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[]) AND confirmed_at IS NULL`;
      return row!.n === 0;
    });
    await flushQueues();
    const before = await ctx.sql`SELECT sum(republished)::int AS n FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[])`;
    // Two explicit passes: confirmed rows are not even looked at again, so nothing is handed back.
    await system!.relay!.reconciler.pass();
    await system!.relay!.reconciler.pass();
    const after = await ctx.sql`SELECT sum(republished)::int AS n FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[])`;
    expect(after).toEqual(before);
    for (const id of ids) expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
  });
});
