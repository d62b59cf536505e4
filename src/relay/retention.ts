// Deletes what is past its retention, in small batches, so the tables and their indexes stay
// bounded under a sustained load. Runs beside the relay; several relays may prune at once.
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import { deleteOldInboxRows, deleteOldOutboxRows } from '../db/retention.ts';

export interface RetentionSettings {
  outboxS: number;
  inboxS: number;
  intervalMs: number;
  batchSize?: number;
  maxBatchesPerPass?: number;
}

// A table a service prunes alongside the engine's own (the order service's idempotency keys):
// `prune` deletes at most `limit` expired rows and returns how many it deleted.
export interface PruneTask {
  table: string;
  prune: (limit: number) => Promise<number>;
}

// With autovacuum off (it is on every production Postgres, but not on every developer's), the
// outbox's statistics go stale and its dead index entries pile up: the claim query can then sort the
// whole backlog instead of walking the partial index. The relay steps in for it on the outbox.
async function autovacuumIsOff(sql: Sql): Promise<boolean> {
  const [row] = await sql<{ on: boolean }[]>`SELECT current_setting('autovacuum')::bool AS on`;
  return !row!.on;
}

export function createRetention(sql: Sql, settings: RetentionSettings, log: Logger, extraTasks: readonly PruneTask[] = []) {
  const batchSize = settings.batchSize ?? 1000;
  const maxBatches = settings.maxBatchesPerPass ?? 100;
  const tasks: PruneTask[] = [
    { table: 'outbox', prune: (limit) => deleteOldOutboxRows(sql, settings.outboxS, limit) },
    { table: 'processed_messages', prune: (limit) => deleteOldInboxRows(sql, settings.inboxS, limit) },
    ...extraTasks,
  ];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let scheduled = false;
  let vacuumOutbox: boolean | undefined; // known after the first pass
  let cancelled = false; // set by stop(): a pass in progress ends after its current batch

  // One pass: each table in batches until nothing old is left or the pass has done its share.
  async function pass(): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    for (const task of tasks) {
      deleted[task.table] = 0;
      for (let i = 0; i < maxBatches && !cancelled; i++) {
        const n = await task.prune(batchSize);
        deleted[task.table]! += n;
        if (n < batchSize) break;
      }
    }
    if (Object.values(deleted).some((n) => n > 0)) log.info({ deleted }, 'retention removed old rows');
    if (vacuumOutbox === undefined) {
      vacuumOutbox = await autovacuumIsOff(sql);
      if (vacuumOutbox) log.warn('autovacuum is off in this Postgres: the relay vacuums and analyzes the outbox itself each retention pass; turn autovacuum on in production');
    }
    if (vacuumOutbox && !cancelled) await sql`VACUUM (ANALYZE) outbox`;
    return deleted;
  }

  const schedule = () => {
    if (!scheduled) return;
    timer = setTimeout(() => {
      running = pass()
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'retention pass failed; will try again'))
        .finally(schedule);
    }, settings.intervalMs);
  };

  return {
    pass,
    start() {
      if (scheduled) return;
      scheduled = true;
      cancelled = false;
      schedule();
    },
    async stop() {
      scheduled = false;
      cancelled = true;
      clearTimeout(timer);
      await running;
    },
  };
}
