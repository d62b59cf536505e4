// Fault 1: the relay dies by kill -9 while it publishes — at the crash point between addBulk and the
// mark (FAULT_INJECTION relay-after-add) and at random moments from outside — and is restarted
// each time. Rows added but not marked are added again (a no-op by jobId); nothing is lost.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';
import { scaled } from '../support/context.ts';

const ORDERS = 150;
// Small batches, so a backlog built while the relay is down is published over several batches.
const suite = faultSuite({ env: { RELAY_BATCH_SIZE: '25' }, cluster: { maxCrashes: 30 } });

describe('a relay killed while it publishes', () => {
  it(
    'is restarted and publishes every row; each order is paid, delivered and invoiced once',
    async () => {
      const { ctx, cluster, audit } = suite;
      const [, relay] = await cluster.startMany([['api'], ['relay'], ['worker']]);

      // Phase 1: kill -9 from outside, at a random moment of each of four incarnations, while orders arrive.
      const first = driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 40, name: 'Killed' });
      let kills = 0;
      for (let tries = 0; tries < 20 && kills < 4; tries++) {
        await cluster.waitReady(relay!);
        await sleep(100 + Math.random() * 300);
        if (relay!.alive()) {
          cluster.kill9(relay!);
          kills++;
        }
      }
      expect(kills).toBe(4);
      const killed = await first.done;

      // Phase 2: the relay kills itself between addBulk and the mark (probability 0.5 per batch),
      // restarted each time with the same crash point. Orders keep coming, a few dozen at a time
      // while it is up, until it has died there three times (a bounded number of rounds).
      await cluster.restart(relay!, { FAULT_INJECTION: 'relay-after-add:0.5' });
      const crashed: string[] = [];
      for (let round = 0; round < 10 && relay!.crashes - kills < 3; round++) {
        await cluster.waitReady(relay!);
        const chunk = await driveOrders({ urls: () => cluster.apiUrls(), count: 40, ratePerSec: 40, name: `Crashed${round}` }).done;
        expect(chunk.statuses).toEqual({ 201: 40 });
        crashed.push(...chunk.accepted);
      }
      cluster.calmDown();
      expect(relay!.crashes - kills).toBeGreaterThanOrEqual(3);

      expect(killed.statuses).toEqual({ 201: ORDERS });
      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, [...killed.accepted, ...crashed])).toEqual([]);
      // One job per routed row, no more: re-adds after the crashes were no-ops.
      const [rows] = await ctx.sql<{ created: number; paid: number }[]>`
      SELECT count(*) FILTER (WHERE event_type = 'order.created')::int AS created, count(*) FILTER (WHERE event_type = 'order.paid')::int AS paid FROM outbox`;
      expect(await audit.queues.payments.getJobCountByTypes('completed')).toBe(rows!.created);
      expect(await audit.queues.deliveries.getJobCountByTypes('completed')).toBe(rows!.paid);
      expect(await audit.queues.invoices.getJobCountByTypes('completed')).toBe(rows!.paid);
      console.info(`relay: ${kills} external kills, ${relay!.crashes - kills} crashes between add and mark, ${relay!.children.length} starts`);
    },
    scaled(120_000),
  );
});
