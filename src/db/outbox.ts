// Query functions for the relay: what it claims, publishes and marks. (Events are written by the
// engine's events.ts, inside the services' own transactions.)
import type { Db } from './client.ts';

export interface OutboxRow {
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: unknown;
  headers: Record<string, string>;
  created_at: Date;
  attempts: number;
  payload_bytes: number;
}

export type ClaimOrder = 'oldest' | 'newest';

// Claims up to `limit` committed rows still to publish, oldest (or newest) first, and marks them
// published in the same statement: one write per row, not a lock and then an update. The marks
// only hold if the batch's transaction commits, and it commits only once the jobs are in Redis
// (src/relay/outbox-store.ts); a publish that fails rolls the claim back, leaving the rows
// unpublished and unlocked. SKIP LOCKED lets several relays (or several loops of one relay) claim
// disjoint batches; claiming by state rather than by "id after the last one seen" means a row whose
// transaction committed late is still found. Rows of a type routed to no queue are confirmed with
// their publication (no consumer will ever record them, so the reconciler has nothing to watch).
// It returns the query unsent (postgres.js sends it when awaited or executed), so the relay sends
// BEGIN with it in one round trip. RETURNING keeps no order: the caller sorts.
export function claimAndMarkPublished(db: Db, limit: number, order: ClaimOrder, unroutedTypes: readonly string[]) {
  return db<OutboxRow[]>`
    UPDATE outbox o SET published_at = now(), last_error = NULL,
      confirmed_at = CASE WHEN o.event_type = ANY(${unroutedTypes as string[]}::text[]) THEN now() END
    FROM (
      SELECT id FROM outbox
      WHERE published_at IS NULL AND dead_at IS NULL AND available_at <= now()
      ORDER BY created_at ${order === 'newest' ? db`DESC` : db``}
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED) claimed
    WHERE o.id = claimed.id
    RETURNING o.id, o.aggregate_type, o.aggregate_id, o.event_type, o.payload, o.headers, o.created_at, o.attempts,
              octet_length(o.payload::text) AS payload_bytes`;
}

// Records a failed publish of one row claimed in the same transaction (undoing the claim's marks);
// after `maxAttempts` the row is dead and is never tried again until an operator requeues it. Until
// then it waits an exponential delay so it cannot block others.
export function recordPublishFailure(db: Db, id: string, error: string, retry: { maxAttempts: number; baseDelayMs: number }) {
  return db`
    UPDATE outbox SET
      published_at = NULL,
      confirmed_at = NULL,
      attempts = attempts + 1,
      last_error = ${error.slice(0, 2000)},
      dead_at = CASE WHEN attempts + 1 >= ${retry.maxAttempts} THEN now() END,
      available_at = now() + least(interval '1 millisecond' * ${retry.baseDelayMs} * power(2, attempts), interval '5 minutes')
    WHERE id = ${id}`;
}
