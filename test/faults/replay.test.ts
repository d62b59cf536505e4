// Fault 11: an operator runs the replay tool (`npm run outbox -- replay <id>`) on events every
// consumer already handled, while orders keep flowing. The events are published again; each
// consumer's inbox absorbs them and logs a duplicate; there is no second effect.
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { startNode } from '../support/processes.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';
import { track } from './support/tracked.ts';

const FIRST = 100;
const SECOND = 80;
const suite = faultSuite();

interface DuplicateLine {
  msg: string;
  queue: string;
  outbox_id: string;
}

describe('the replay tool on events already processed', () => {
  it(
    'publishes them again; every consumer logs a duplicate and nothing happens twice',
    async () => {
      const { ctx, cluster, audit } = suite;
      // The worker logs at info: its "duplicate message absorbed by the inbox" lines are asserted.
      const [, , worker] = await cluster.startMany([['api'], ['relay'], ['worker', { LOG_LEVEL: 'info' }]]);
      const first = await driveOrders({ urls: () => cluster.apiUrls(), count: FIRST, ratePerSec: 50, name: 'Replayed' }).done;
      expect(first.statuses).toEqual({ 201: FIRST });
      await settle(ctx, audit.queues);

      const events = await ctx.sql<{ id: string; event_type: string }[]>`
      SELECT id, event_type FROM outbox WHERE aggregate_id = ANY(${first.accepted.slice(0, 3)}::uuid[]) AND event_type IN ('order.created', 'order.paid')`;
      expect(events).toHaveLength(6);

      // The replays run while more orders arrive.
      const second = driveOrders({ urls: () => cluster.apiUrls(), count: SECOND, ratePerSec: 40, name: 'Meanwhile' });
      const replays = events.map((e) => track(startNode('src/outbox-admin/cli.ts', ctx.env, ['replay', e.id])));
      const exits = await Promise.all(replays.map((r) => r.exited));
      for (const [i, exit] of exits.entries()) {
        expect(replays[i]!.output()).toContain(`replayed ${events[i]!.id}`);
        expect(exit.code).toBe(0);
      }
      const result = await second.done;
      expect(result.statuses).toEqual({ 201: SECOND });

      // Every consumer of each replayed event logged it as a duplicate.
      const expected = events.flatMap((e) => (e.event_type === 'order.created' ? ['payments'] : ['deliveries', 'invoices']).map((q) => `${q}/${e.id}`)).sort();
      const duplicates = () =>
        worker!
          .output()
          .split('\n')
          .filter((l) => l.includes('duplicate message absorbed by the inbox'))
          .map((l) => JSON.parse(l) as DuplicateLine)
          .map((l) => `${l.queue}/${l.outbox_id}`)
          .sort();
      await waitFor('every replayed event to be absorbed as a duplicate', () => duplicates().length >= expected.length);
      expect(duplicates()).toEqual(expected);

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, [...first.accepted, ...result.accepted])).toEqual([]);
    },
    scaled(90_000),
  );
});
