// The relay's transaction around one batch: claim, publish (outside Postgres), record, commit.
import { inReservedTransaction, type Sql } from '../db/client.ts';
import { claimAndMarkPublished, recordPublishFailure, type ClaimOrder, type OutboxRow } from '../db/outbox.ts';
import { claimUnconfirmed, markConfirmed, markForRepublish, type UnconfirmedRow } from '../db/reconcile.ts';
import { crashPoint } from '../fault-points.ts';
import type { BatchOutcome } from './publish.ts';
import type { Verdict } from './reconciler.ts';

// Two round trips to Postgres per batch, and one statement: BEGIN goes out with the claim (which
// also marks the rows published) and COMMIT alone, once the jobs are in Redis; only rows that
// failed to publish need a statement of their own. A relay under a stream of orders makes hundreds
// of small batches a second.
export function createBatchProcessor(sql: Sql, retry: { maxAttempts: number; baseDelayMs: number }, unroutedTypes: readonly string[]) {
  return async (limit: number, publish: (rows: OutboxRow[]) => Promise<BatchOutcome>, order: ClaimOrder = 'oldest'): Promise<number> =>
    inReservedTransaction(sql, async (tx) => {
      // execute() sends a query now, in the order written; left to `await`, postgres.js would send
      // each when its promise job runs, which is not always the order they were written in.
      const [, claimed] = await Promise.all([tx`BEGIN`.execute(), claimAndMarkPublished(tx, limit, order, unroutedTypes).execute()]);
      if (claimed.length === 0) {
        await tx`COMMIT`;
        return 0;
      }
      const rows = inClaimOrder(claimed, order);
      // If publishing throws (Redis away), the transaction rolls back: rows stay unpublished and
      // unlocked, and any job that did reach Redis is deduplicated by its jobId on the next try.
      const outcome = await publish(rows);
      crashPoint('relay-after-add');
      crashPoint('relay-freeze-after-add');
      // A failing statement aborts the transaction, and Postgres then answers the COMMIT with a rollback.
      await Promise.all([...outcome.failed.map((f) => recordPublishFailure(tx, f.id, f.error, retry).execute()), tx`COMMIT`.execute()]);
      return rows.length;
    });
}

// UPDATE … RETURNING gives the rows in no particular order; jobs go to Redis oldest (or newest) first.
function inClaimOrder(rows: OutboxRow[], order: ClaimOrder): OutboxRow[] {
  const sign = order === 'newest' ? -1 : 1;
  return [...rows].sort((a, b) => sign * (a.created_at.getTime() - b.created_at.getTime()));
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
