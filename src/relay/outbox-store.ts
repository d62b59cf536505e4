// The relay's transaction around one batch: claim, publish (outside Postgres), record, commit.
import type { Sql } from '../db/client.ts';
import { claimUnpublished, markPublished, recordPublishFailure, type OutboxRow } from '../db/outbox.ts';
import type { BatchOutcome } from './publish.ts';

export function createBatchProcessor(sql: Sql, retry: { maxAttempts: number; baseDelayMs: number }) {
  return async (limit: number, publish: (rows: OutboxRow[]) => Promise<BatchOutcome>): Promise<number> =>
    sql.begin(async (tx) => {
      const rows = await claimUnpublished(tx, limit);
      if (rows.length === 0) return 0;
      // If publishing throws (Redis away), the transaction rolls back: rows stay unpublished and
      // unlocked, and any job that did reach Redis is deduplicated by its jobId on the next try.
      const outcome = await publish(rows);
      await markPublished(tx, outcome.published);
      for (const f of outcome.failed) await recordPublishFailure(tx, f.id, f.error, retry);
      return rows.length;
    });
}
