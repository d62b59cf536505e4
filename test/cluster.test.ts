// The whole pipeline on a real Redis Cluster (three local masters, no replicas). Killing the master
// that holds our queues is reported clearly (the API keeps taking orders and says Redis is
// unavailable); once it is back, nothing is lost and nothing is doubled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createTestContext, scaled, waitFor, type TestContext } from './support/context.ts';
import { startLocalCluster, type LocalCluster } from './support/redis-cluster.ts';
import { effectCounts, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let cluster: LocalCluster;
let system: RunningSystem;

beforeAll(async () => {
  cluster = await startLocalCluster();
  ctx = await createTestContext({ REDIS_CLUSTER_NODES: cluster.nodes, RECONCILE_AFTER_MS: '1000', RECONCILE_INTERVAL_MS: '200' });
  system = await startSystem(ctx);
}, scaled(90_000));

afterAll(async () => {
  await cluster?.heal();
  await system?.stop();
  await ctx?.cleanup();
  await cluster?.stop();
});

async function place(n: number, name: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await postJson(`${system.url}/orders`, {
      customer_name: `${name} ${i}`,
      address: '7 Slot St',
      items: [{ flavor: 'Capricciosa', size: 'large', quantity: 1, unit_price_cents: 1300 }],
    });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

// Delivered and invoiced: the invoices through the invoice service's pool (its own database or not).
const delivered = async (ids: string[]) => {
  const orders = await ctx.sql<{ id: string }[]>`SELECT id FROM orders WHERE id = ANY(${ids}::uuid[]) AND status = 'delivered'`;
  const [row] = await ctx.invoicesSql<{ n: number }[]>`SELECT count(*)::int AS n FROM invoices WHERE order_id = ANY(${orders.map((o) => o.id)}::uuid[])`;
  return row!.n;
};

describe('on a Redis Cluster', () => {
  it('parses REDIS_CLUSTER_NODES into seed nodes that win over REDIS_URL', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:1, b:2' }).REDIS_CLUSTER_NODES).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'nohost' })).toThrow(/REDIS_CLUSTER_NODES/);
  });

  it('runs the whole pipeline: every order delivered once', async () => {
    const ids = await place(30, 'Cluster');
    await waitFor('every order to be delivered and invoiced', async () => (await delivered(ids)) === ids.length, 30_000);
    for (const id of ids) expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
  });

  it('keeps taking orders while the master of our slot is down, says so, and loses nothing once it is back', async () => {
    const port = await cluster.masterOfKey(`${ctx.config.QUEUE_PREFIX}:payments`);
    await cluster.kill(port);
    await waitFor('the cluster to notice', async () => (await cluster.state()) === 'fail', 30_000);

    const during = await place(10, 'During');
    const ready = await fetch(`${system.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { redis: string } }).checks.redis).toMatch(/^unavailable/);

    await cluster.restart(port);
    await waitFor('the orders placed during the outage to be delivered', async () => (await delivered(during)) === during.length, 60_000);
    for (const id of during) expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
  });
});
