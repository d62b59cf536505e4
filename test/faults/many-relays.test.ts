// Fault 5: two, then three relays and several workers at once, each its own process. SKIP LOCKED
// gives each relay its own rows: the relays' published counters add up to exactly the number of
// rows (each published once), and the audit finds each effect once.
import { describe, expect, it } from 'vitest';
import { ORDER_TOPOLOGY } from '../../src/orders/topology.ts';
import type { RoleName, RoleProcess } from './support/cluster.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const ORDERS = 150;
const suite = faultSuite({
  // Small batches and several loops per relay: the relays really compete for rows.
  env: { RELAY_BATCH_SIZE: '10', RELAY_CONCURRENCY: '2' },
  start: [['api'], ['api'], ['worker', { WORKER_QUEUES: 'payments' }], ['worker', { WORKER_QUEUES: 'payments,deliveries' }], ['worker', { WORKER_QUEUES: 'deliveries,invoices' }]],
});

async function publishedBy(relay: RoleProcess): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  return Number(/^outbox_published_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

describe('several relays and workers at once', () => {
  it.each([2, 3])(
    '%i relays publish each row once; each effect happens once',
    async (n) => {
      const { ctx, cluster, audit } = suite;
      const relays = await cluster.startMany(Array.from({ length: n }, (): [RoleName] => ['relay']));
      const result = await driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 60, name: `Relays${n}` }).done;
      expect(result.statuses).toEqual({ 201: ORDERS });

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);

      // The rows a relay had to publish: all of them (order.created, order.paid, and order.delivered,
      // which is routed nowhere and published to no queue).
      const routed = [...ORDER_TOPOLOGY.eventTypes];
      const [rows] = await ctx.sql<{ n: number; retried: number }[]>`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE attempts > 0 OR republished > 0)::int AS retried
      FROM outbox WHERE aggregate_id = ANY(${result.accepted}::uuid[]) AND event_type = ANY(${routed}::text[])`;
      expect(rows!.n).toBe(3 * ORDERS);
      expect(rows!.retried).toBe(0);
      const counts = await Promise.all(relays.map(publishedBy));
      console.info(`${n} relays published ${counts.join(' + ')} = ${rows!.n} rows`);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(rows!.n);

      // These relays stop cleanly before the next case starts its own.
      for (const relay of relays) expect((await cluster.sigterm(relay)).code).toBe(0);
    },
    90_000,
  );
});
