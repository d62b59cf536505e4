// Fault: Redis runs out of memory (maxmemory reached under noeviction) for several seconds while
// orders arrive. A full Redis is an outage like Redis down, not a bad row: the API keeps answering
// 201, the relay backs off as a whole without spending any row's attempts or marking anything dead,
// says so in one clear line, and the backlog drains by itself once memory is freed. The fault is
// `CONFIG SET maxmemory 1` on the test's own Redis: every write is refused with OOM.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite, privateRedis } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const ORDERS = 200;
const FULL_MS = 4000;
const suite = faultSuite({ server: privateRedis({ persistent: false }) });

describe('Redis out of memory for several seconds under load', () => {
  it(
    'keeps taking orders, spends no publish attempts, and drains once memory is freed',
    async () => {
      const { ctx, cluster, audit, server: redis } = suite;
      await cluster.startMany([['api'], ['relay'], ['worker']]);
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 40 });
      await waitFor('the first orders to be placed', () => drive.finished() >= 40);

      await redis.cli('config', 'set', 'maxmemory', '1');
      // The fault happened: a write is refused with OOM.
      expect(await redis.cli('set', 'oom-probe', 'x')).toMatch(/^OOM /);
      const sentBefore = drive.sent();
      await sleep(FULL_MS); // orders keep arriving meanwhile
      const sentDuring = drive.sent() - sentBefore;
      await redis.cli('config', 'set', 'maxmemory', '0');

      const result = await drive.done;
      expect(result.statuses).toEqual({ 201: ORDERS });
      expect(sentDuring).toBeGreaterThan(50);

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      // An outage, not bad rows: no attempt spent on any row, nothing dead.
      const [rows] = await ctx.sql<{ attempted: number; dead: number }[]>`
      SELECT count(*) FILTER (WHERE attempts > 0)::int AS attempted, count(*) FILTER (WHERE dead_at IS NOT NULL)::int AS dead FROM outbox`;
      expect(rows).toEqual({ attempted: 0, dead: 0 });
      const relayLog = cluster.of('relay')[0]!.output();
      expect(relayLog).toContain('Redis is out of memory');
      expect(relayLog).not.toContain('outbox row could not be published');
      expect(cluster.crashes(), cluster.describe()).toBe(0);
    },
    scaled(120_000),
  );
});
