// Query functions for the reconciler: published rows not yet confirmed by their consumers.
import type { Db } from './client.ts';

export interface UnconfirmedRow {
  id: string;
  event_type: string;
  published_at: Date;
  consumers_done: string[];
}

// Locks a page of rows published more than `afterMs` ago and not yet confirmed, with the inbox
// consumers that already recorded each one. SKIP LOCKED lets several relays reconcile at once.
export async function claimUnconfirmed(db: Db, afterMs: number, limit: number, after?: { publishedAt: Date; id: string }): Promise<UnconfirmedRow[]> {
  return db<UnconfirmedRow[]>`
    SELECT o.id, o.event_type, o.published_at,
           coalesce((SELECT array_agg(p.consumer) FROM processed_messages p WHERE p.message_id = o.id), '{}') AS consumers_done
    FROM outbox o
    WHERE o.published_at IS NOT NULL AND o.confirmed_at IS NULL
      AND o.published_at < now() - make_interval(secs => ${afterMs / 1000})
      ${after ? db`AND (o.published_at, o.id) > (${after.publishedAt}, ${after.id})` : db``}
    ORDER BY o.published_at, o.id
    LIMIT ${limit}
    FOR UPDATE OF o SKIP LOCKED`;
}

// Every consumer has the event (or its job ended for good): nothing more to watch.
export async function markConfirmed(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db`UPDATE outbox SET confirmed_at = now() WHERE id = ANY(${ids as string[]}::uuid[])`;
}

// Redis no longer has the job and no consumer recorded the event: hand the row back to the relay.
// jobId = outbox id and the inbox make the second publication safe.
export async function markForRepublish(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  // Due again from now, so its lag (outbox_oldest_pending_age_seconds) counts from the hand-back.
  await db`UPDATE outbox SET published_at = NULL, republished = republished + 1, available_at = now() WHERE id = ANY(${ids as string[]}::uuid[])`;
}
