// Scaling out on one machine: 2 API, 3 relay and 4 worker processes against one Postgres and one
// Redis, with a couple of thousand orders. Each row is published once (the relays' own counters
// add up to the number of rows), each effect happens once (the audit), and nothing is left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../src/audit/audit.ts';
import { createCommandConnection } from '../src/redis/connection.ts';
import { closeQueues } from '../src/redis/queues.ts';
import { createOrderQueues } from '../src/orders/queues.ts';
import { createTestContext, scaled, waitFor, type TestContext } from './support/context.ts';
import { freePort, startNode, type Child } from './support/processes.ts';

const ORDERS = 1500;
let ctx: TestContext;
const children: Child[] = [];
const apiUrls: string[] = [];
const relayMetricsPorts: number[] = [];

beforeAll(async () => {
  // A long reconcile delay: a re-publication would be counted twice on purpose, so none may happen here.
  ctx = await createTestContext({ RECONCILE_AFTER_MS: '600000', WORKER_CONCURRENCY: '8', PG_POOL_MAX: '5' });
  const env = { ...ctx.env, LOG_LEVEL: 'info' };
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    apiUrls.push(`http://127.0.0.1:${port}`);
    children.push(startNode('src/api/main.ts', { ...env, PORT: String(port) }));
  }
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    relayMetricsPorts.push(port);
    children.push(startNode('src/relay/main.ts', { ...env, METRICS_PORT: String(port) }));
  }
  const queueSets = ['payments', 'payments,deliveries', 'deliveries,invoices', 'invoices,payments'];
  for (const queues of queueSets) children.push(startNode('src/workers/main.ts', { ...env, WORKER_QUEUES: queues }));
  for (const child of children) await waitFor('every process to start', () => child.output().includes('"msg":"started"') || child.proc.exitCode !== null, 60_000);
  for (const child of children) expect(child.proc.exitCode, child.output()).toBeNull();
}, scaled(120_000));

afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((r) => setTimeout(r, 15_000))]);
  for (const child of children) child.kill('SIGKILL');
  await ctx?.cleanup();
});

async function publishedBy(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^outbox_published_total (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('2 APIs, 3 relays and 4 workers', () => {
  it('publish each row once and make each effect once', async () => {
    const statuses: number[] = [];
    const body = (i: number) =>
      JSON.stringify({ customer_name: `Scale ${i}`, address: '9 Many St', items: [{ flavor: 'Diavola', size: 'large', quantity: 1 + (i % 3), unit_price_cents: 1100 }] });
    // Sixteen clients at once, alternating between the two APIs.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < ORDERS) {
          const i = next++;
          const res = await fetch(`${apiUrls[i % 2]}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) });
          statuses.push(res.status);
          await res.arrayBuffer();
        }
      }),
    );
    expect(statuses.filter((s) => s !== 201)).toEqual([]);

    await waitFor(
      'every order to be delivered and invoiced',
      async () => {
        const delivered = await ctx.sql<{ id: string }[]>`SELECT id FROM orders WHERE status = 'delivered'`;
        const [row] = await ctx.invoicesSql`SELECT count(*)::int AS n FROM invoices WHERE order_id = ANY(${delivered.map((o) => o.id)}::uuid[])`;
        return delivered.length === ORDERS && row!.n === ORDERS;
      },
      120_000,
    );
    await waitFor('every event to be published', async () => (await ctx.sql`SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1`).length === 0);

    // Every row goes through the relays: order.created, order.paid, and order.delivered (routed
    // nowhere: published to no queue, so a route added later would still reach unpublished rows).
    const [rows] = await ctx.sql`SELECT count(*)::int AS n FROM outbox WHERE event_type IN ('order.created', 'order.paid', 'order.delivered')`;
    const perRelay = await Promise.all(relayMetricsPorts.map(publishedBy));
    expect(perRelay.reduce((a, b) => a + b, 0)).toBe(rows!.n); // each row published by exactly one relay
    expect(rows!.n).toBe(3 * ORDERS);
    expect(perRelay.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2); // the work was shared

    const redis = createCommandConnection(ctx.config, ctx.log, 'scale-audit');
    const queues = createOrderQueues(redis, ctx.config);
    try {
      const report = await runAudit({ sql: ctx.sql, invoicesSql: ctx.invoicesSql, queues, settleMs: 0, lockDurationMs: ctx.config.WORKER_LOCK_DURATION_MS });
      expect(report.counts).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, stuck: 0 });
      expect(report.ok).toBe(true);
    } finally {
      await closeQueues(queues);
      redis.disconnect();
    }
  }, 240_000);
});
