// Fault 12: Redis loses its data after rows were marked published but before their jobs ran — a
// restart without persistence, a failover to an empty replica, FLUSHALL. The reconciler finds
// published rows whose jobs Redis no longer has and no consumer recorded (RECONCILE_AFTER_MS after
// publication) and hands them back to the relay; jobId and the inbox keep every effect single.
// The Redis is the test's own, without persistence: a restart comes back empty.
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite, privateRedis } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

// Payments slower than the orders arrive (8 at a time, 250 ms each), so under load jobs wait in
// Redis when it loses them.
const suite = faultSuite({ server: privateRedis({ persistent: false }), env: { GATEWAY_LATENCY_MS: '250' } });

async function republishedAmong(ids: string[]): Promise<number> {
  const { ctx } = suite;
  const [row] = await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[]) AND republished > 0`;
  return row!.n;
}

async function publishedCreated(ids: string[]): Promise<number> {
  const { ctx } = suite;
  const [row] = await ctx.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[]) AND event_type = 'order.created' AND published_at IS NOT NULL`;
  return row!.n;
}

describe('Redis losing its data', () => {
  it(
    'after a restart without persistence, with every job still waiting: all re-published, each order done once',
    async () => {
      const { ctx, cluster, audit, server: redis } = suite;
      await cluster.startMany([['api'], ['relay']]); // no worker yet: the jobs wait in Redis
      const result = await driveOrders({ urls: () => cluster.apiUrls(), count: 100, ratePerSec: 50, name: 'Restart' }).done;
      expect(result.statuses).toEqual({ 201: 100 });
      await waitFor('every order.created row to be marked published', async () => (await publishedCreated(result.accepted)) === 100);
      expect(await audit.queues.payments.getWaitingCount()).toBe(100);

      // The fault happened: a key written before the restart is gone. (Counting keys after it would
      // race the recovery: the reconciler may already be re-adding jobs by the time the test asks.)
      await redis.cli('set', 'fault-marker', '1');
      await redis.kill();
      await redis.start(); // empty
      expect(await redis.cli('exists', 'fault-marker')).toBe('0');
      await cluster.start('worker');

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      expect(await republishedAmong(result.accepted)).toBeGreaterThanOrEqual(100);
    },
    scaled(90_000),
  );

  it(
    'after FLUSHALL under load: nothing lost, nothing doubled',
    async () => {
      const { ctx, cluster, audit, server: redis } = suite;
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: 150, ratePerSec: 40, name: 'Flush' });
      await waitFor('some orders to be delivered while others wait', async () => {
        const [row] = await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE customer_name LIKE 'Flush %' AND status = 'delivered'`;
        return row!.n >= 10 && (await audit.queues.payments.getWaitingCount()) >= 10;
      });
      expect(await redis.cli('flushall')).toBe('OK');
      const result = await drive.done;
      expect(result.statuses).toEqual({ 201: 150 });

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      expect(await republishedAmong(result.accepted)).toBeGreaterThan(0);
    },
    scaled(90_000),
  );

  it(
    'after a failover to an empty server under load: nothing lost, nothing doubled',
    async () => {
      const { ctx, cluster, audit, server: redis } = suite;
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: 150, ratePerSec: 40, name: 'Failover' });
      await waitFor('some orders to be placed and waiting', async () => drive.finished() >= 50 && (await audit.queues.payments.getWaitingCount()) >= 10);
      // The same address now answers from an empty server, as after a failover to a replica that had nothing.
      await redis.kill();
      await redis.start();
      const result = await drive.done;
      expect(result.statuses).toEqual({ 201: 150 });

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      expect(await republishedAmong(result.accepted)).toBeGreaterThan(0);
      expect(cluster.crashes(), cluster.describe()).toBe(0);
    },
    scaled(90_000),
  );
});
