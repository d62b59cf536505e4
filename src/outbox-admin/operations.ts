// What an operator can do to the outbox, shared by the admin API and `npm run outbox`.
import type { Sql } from '../db/client.ts';
import {
  countPublishedInRange,
  findOutboxRow,
  findPublishedInRange,
  listOutboxRows,
  markForReplay,
  requeueDeadRow,
  type EventRange,
  type OutboxListing,
} from '../db/outbox-admin.ts';
import type { Topology } from '../engine/topology.ts';
import type { Queues } from '../redis/queues.ts';

export type ReplayResult = { outcome: 'replayed'; removedJobs: string[] } | { outcome: 'pending'; detail: string } | { outcome: 'not_found' | 'dead' };

export interface BulkReplayProgress {
  done: number;
  total: number;
  replayed: number;
  // Rows whose job is still waiting or running: nothing to replay yet.
  pending: number;
}

export type RequeueResult = { outcome: 'requeued' } | { outcome: 'not_found' | 'not_dead' };

export function createOutboxOperations(sql: Sql, queues: Queues, topology: Topology, wakeRelay: () => void) {
  return {
    list: (state: 'pending' | 'dead', limit: number): Promise<OutboxListing[]> => listOutboxRows(sql, state, limit),

    // Publishes one event again. Finished jobs with its id are removed first, or jobId dedupe would
    // make the new add a no-op; the consumers' inbox then decides, so an event that was already
    // processed produces no second effect (the worker logs it as a duplicate).
    async replay(id: string): Promise<ReplayResult> {
      const row = await findOutboxRow(sql, id);
      if (!row) return { outcome: 'not_found' };
      if (row.dead_at) return { outcome: 'dead' };
      if (!row.published_at) return { outcome: 'pending', detail: 'the row is not published yet; the relay will publish it' };
      const removedJobs: string[] = [];
      for (const queue of topology.routeFor(row.event_type) ?? []) {
        const state = await queues[queue]!.getJobState(id);
        if (state === 'completed' || state === 'failed') {
          await queues[queue]!.remove(id);
          removedJobs.push(`${queue}/${id}`);
        } else if (state !== 'unknown') {
          return { outcome: 'pending', detail: `its job in ${queue} is still ${state}` };
        }
      }
      if (!(await markForReplay(sql, id))) return { outcome: 'not_found' };
      wakeRelay();
      return { outcome: 'replayed', removedJobs };
    },

    // Every published event of one type written in a time range, again: for a route added after
    // they were published (a new consumer that should see the history). One event at a time,
    // with `onProgress` after each page; consumers that had an event already absorb it.
    async replayRange(range: EventRange, onProgress: (p: BulkReplayProgress) => void = () => {}, pageSize = 500): Promise<BulkReplayProgress> {
      const progress: BulkReplayProgress = { done: 0, total: await countPublishedInRange(sql, range), replayed: 0, pending: 0 };
      let after: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const page = await findPublishedInRange(sql, range, pageSize, after);
        if (page.length === 0) break;
        for (const row of page) {
          const result = await this.replay(row.id);
          progress.done++;
          if (result.outcome === 'replayed') progress.replayed++;
          else if (result.outcome === 'pending') progress.pending++;
        }
        after = { createdAt: page[page.length - 1]!.created_at, id: page[page.length - 1]!.id };
        onProgress({ ...progress });
      }
      return progress;
    },

    async requeue(id: string): Promise<RequeueResult> {
      if (await requeueDeadRow(sql, id)) {
        wakeRelay();
        return { outcome: 'requeued' };
      }
      return (await findOutboxRow(sql, id)) ? { outcome: 'not_dead' } : { outcome: 'not_found' };
    },
  };
}

export type OutboxOperations = ReturnType<typeof createOutboxOperations>;
