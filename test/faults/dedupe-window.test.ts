// Fault 8: past the dedupe window. jobId = outbox id makes a re-add a no-op only while the completed
// job is still in Redis (JOB_KEEP_COMPLETED_S); once it is gone, a re-published row makes a new
// job. Here completed jobs are removed (as their age runs out) and their rows re-published (as after
// a relay crash between add and mark), under load: every consumer's inbox absorbs the message, so
// there is no second effect.
import { describe, expect, it } from 'vitest';
import type { OutboxJobData } from '../../src/engine/events.ts';
import { ORDER_TOPOLOGY, type QueueName } from '../../src/orders/topology.ts';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const FIRST = 100;
const SECOND = 100;
const REPUBLISHED = 30;
const suite = faultSuite();

describe('a row re-published after its completed job left Redis', () => {
  it(
    'makes a new job that every consumer absorbs as a duplicate: no second effect',
    async () => {
      const { ctx, cluster, audit } = suite;
      await cluster.startMany([['api'], ['relay'], ['worker']]);
      const first = await driveOrders({ urls: () => cluster.apiUrls(), count: FIRST, ratePerSec: 50, name: 'Before' }).done;
      expect(first.statuses).toEqual({ 201: FIRST });
      await settle(ctx, audit.queues);

      // The events of some delivered orders, with the queues their jobs ran in.
      const events = await ctx.sql<{ id: string; event_type: string }[]>`
      SELECT id, event_type FROM outbox
      WHERE aggregate_id = ANY(${first.accepted.slice(0, REPUBLISHED)}::uuid[]) AND event_type IN ('order.created', 'order.paid')`;
      expect(events).toHaveLength(2 * REPUBLISHED);
      const jobs: Array<{ queue: QueueName; id: string; firstRun: number }> = events.flatMap((e) =>
        (ORDER_TOPOLOGY.routeFor(e.event_type) ?? []).map((queue) => ({ queue, id: e.id, firstRun: 0 })),
      );
      expect(jobs).toHaveLength(3 * REPUBLISHED); // payments; deliveries and invoices
      for (const job of jobs) {
        const done = await audit.queues[job.queue].getJob(job.id);
        expect(await done!.getState()).toBe('completed');
        job.firstRun = done!.timestamp;
        await done!.remove(); // its JOB_KEEP_COMPLETED_S ran out
      }

      // More orders arrive while the rows are published again.
      const second = driveOrders({ urls: () => cluster.apiUrls(), count: SECOND, ratePerSec: 50, name: 'After' });
      await ctx.sql`UPDATE outbox SET published_at = NULL WHERE id = ANY(${events.map((e) => e.id)}::uuid[])`;
      const result = await second.done;
      expect(result.statuses).toEqual({ 201: SECOND });

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, [...first.accepted, ...result.accepted])).toEqual([]);

      // Each removed job came back as a new job, ran, and was absorbed by that consumer's inbox.
      const outcomes: Record<string, number> = {};
      for (const job of jobs) {
        const rerun = await waitFor(`job ${job.queue}/${job.id} to run again`, async () => {
          const j = await audit.queues[job.queue].getJob(job.id);
          return j && j.timestamp !== job.firstRun && j.finishedOn ? j : undefined;
        });
        const outcome = `${job.queue}:${(rerun.returnvalue as { outcome?: string } | undefined)?.outcome}`;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        expect((rerun.data as OutboxJobData).outboxId).toBe(job.id);
      }
      expect(outcomes).toEqual({ 'payments:duplicate': REPUBLISHED, 'deliveries:duplicate': REPUBLISHED, 'invoices:duplicate': REPUBLISHED });
    },
    scaled(90_000),
  );
});
