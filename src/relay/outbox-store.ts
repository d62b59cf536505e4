// The relay's transaction around one batch: claim, publish (outside Postgres), record, commit.
import { inReservedTransaction, type Sql } from '../db/client.ts';
import { claimUnpublished, markPublished, recordPublishFailure, type ClaimOrder, type OutboxRow } from '../db/outbox.ts';
import { claimUnconfirmed, markConfirmed, markForRepublish, type UnconfirmedRow } from '../db/reconcile.ts';
import { crashPoint } from '../fault-points.ts';
import type { BatchOutcome } from './publish.ts';
import type { Verdict } from './reconciler.ts';

// Two round trips to Postgres per batch, not four: BEGIN goes out with the claim and COMMIT with
// the marks (a relay under a stream of orders makes hundreds of small batches a second).
export function createBatchProcessor(sql: Sql, retry: { maxAttempts: number; baseDelayMs: number }) {
  return async (limit: number, publish: (rows: OutboxRow[]) => Promise<BatchOutcome>, order: ClaimOrder = 'oldest'): Promise<number> =>
    inReservedTransaction(sql, async (tx) => {
      // execute() sends a query now, in the order written; left to `await`, postgres.js would send
      // each when its promise job runs, which is not always the order they were written in.
      const [, rows] = await Promise.all([tx`BEGIN`.execute(), claimUnpublished(tx, limit, order).execute()]);
      if (rows.length === 0) {
        await tx`COMMIT`;
        return 0;
      }
      // If publishing throws (Redis away), the transaction rolls back: rows stay unpublished and
      // unlocked, and any job that did reach Redis is deduplicated by its jobId on the next try.
      const outcome = await publish(rows);
      crashPoint('relay-after-add');
      crashPoint('relay-freeze-after-add');
      // A failing mark aborts the transaction, and Postgres then answers the COMMIT with a rollback.
      await Promise.all([
        ...(outcome.published.length > 0 ? [markPublished(tx, outcome.published, outcome.unrouted).execute()] : []),
        ...outcome.failed.map((f) => recordPublishFailure(tx, f.id, f.error, retry).execute()),
        tx`COMMIT`.execute(),
      ]);
      return rows.length;
    });
}

// The reconciler's transaction around one page: claim, judge (asks Redis), apply, commit.
export function createReconcilePage(sql: Sql, afterMs: number, pageSize: number) {
  return async (cursor: UnconfirmedRow | undefined, judge: (rows: UnconfirmedRow[]) => Promise<Map<string, Verdict>>): Promise<UnconfirmedRow[]> =>
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
