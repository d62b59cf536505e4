// The relay's transaction around one batch: claim, publish (outside Postgres), record, commit.
import type { Sql } from '../db/client.ts';
import { claimUnpublished, markPublished, recordPublishFailure, type OutboxRow } from '../db/outbox.ts';
import { claimUnconfirmed, markConfirmed, markForRepublish, type UnconfirmedRow } from '../db/reconcile.ts';
import { crashPoint } from '../fault-points.ts';
import type { BatchOutcome } from './publish.ts';
import type { Verdict } from './reconciler.ts';

export function createBatchProcessor(sql: Sql, retry: { maxAttempts: number; baseDelayMs: number }) {
  return async (limit: number, publish: (rows: OutboxRow[]) => Promise<BatchOutcome>): Promise<number> =>
    sql.begin(async (tx) => {
      const rows = await claimUnpublished(tx, limit);
      if (rows.length === 0) return 0;
      // If publishing throws (Redis away), the transaction rolls back: rows stay unpublished and
      // unlocked, and any job that did reach Redis is deduplicated by its jobId on the next try.
      const outcome = await publish(rows);
      crashPoint('relay-after-add');
      await markPublished(tx, outcome.published);
      for (const f of outcome.failed) await recordPublishFailure(tx, f.id, f.error, retry);
      return rows.length;
    });
}

// The reconciler's transaction around one page: claim, judge (asks Redis), apply, commit.
export function createReconcilePage(sql: Sql, afterMs: number, pageSize: number) {
  return async (
    cursor: UnconfirmedRow | undefined,
    judge: (rows: UnconfirmedRow[]) => Promise<Map<string, Verdict>>,
  ): Promise<UnconfirmedRow[]> =>
    sql.begin(async (tx) => {
      const rows = await claimUnconfirmed(tx, afterMs, pageSize, cursor && { publishedAt: cursor.published_at, id: cursor.id });
      if (rows.length === 0) return rows;
      const verdicts = await judge(rows);
      const having = (v: Verdict) => rows.filter((r) => verdicts.get(r.id) === v).map((r) => r.id);
      await markConfirmed(tx, having('confirm'));
      await markForRepublish(tx, having('republish'));
      return rows;
    });
}
