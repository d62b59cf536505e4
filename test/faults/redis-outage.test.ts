// Fault 3: Redis goes away for several seconds while orders keep arriving, then comes back (with its
// AOF, as in production). The API never touches Redis on the order path, so POST /orders keeps
// answering 201; the relay backs off and publishes the backlog once Redis is back; nothing is lost.
// The Redis is the test's own (the shared one on 6379 is never stopped).
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders, latencySummary } from './support/driver.ts';
import { faultSuite, privateRedis } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const ORDERS = 240;
const OUTAGE_MS = 4000;
const suite = faultSuite({ server: privateRedis({ persistent: true }) });

describe('Redis stopped for several seconds under load', () => {
  it(
    'keeps POST /orders answering 201, and loses nothing once Redis is back',
    async () => {
      const { ctx, cluster, audit, server: redis } = suite;
      await cluster.startMany([['api'], ['api'], ['relay'], ['worker']]);
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 40 });
      await waitFor('the first orders to be placed', () => drive.finished() >= 40);

      await redis.kill();
      const downAt = Date.now();
      const sentBefore = drive.sent();
      const ready = await fetch(`${cluster.apiUrls()[0]}/health/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: { redis: string } }).checks.redis).toMatch(/^unavailable/);
      await sleep(OUTAGE_MS); // orders keep arriving meanwhile
      const sentDuring = drive.sent() - sentBefore;
      await redis.start();
      const upAt = Date.now();

      const result = await drive.done;
      // Every order was answered, and with 201: the outage never reached the order path.
      expect(result.statuses).toEqual({ 201: ORDERS });
      expect(sentDuring).toBeGreaterThan(50);
      const during = result.orders.filter((o) => o.index >= sentBefore && o.index < sentBefore + sentDuring).flatMap((o) => o.attempts.map((a) => a.ms));
      const outside = result.attempts.map((a) => a.ms);
      console.info(
        `POST /orders latency (ms) during the ${upAt - downAt} ms outage ${JSON.stringify(latencySummary(during))}, whole run ${JSON.stringify(latencySummary(outside))}`,
      );

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      // No process had to be restarted: they all waited for Redis by themselves.
      expect(cluster.crashes(), cluster.describe()).toBe(0);
    },
    scaled(120_000),
  );
});
