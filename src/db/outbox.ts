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

// Locks up to `limit` committed rows still to publish, oldest (or newest) first. SKIP LOCKED lets
// several relays (or several loops of one relay) claim disjoint batches; claiming by state rather
// than by "id after the last one seen" means a row whose transaction committed late is still found.
// Like markPublished and recordPublishFailure, it returns the query unsent (postgres.js sends it
// when awaited or executed), so the relay decides what goes out with it in one round trip.
export function claimUnpublished(db: Db, limit: number, order: ClaimOrder = 'oldest') {
  return db<OutboxRow[]>`
    SELECT id, aggregate_type, aggregate_id, event_type, payload, headers, created_at, attempts,
           octet_length(payload::text) AS payload_bytes
    FROM outbox
    WHERE published_at IS NULL AND dead_at IS NULL AND available_at <= now()
    ORDER BY created_at ${order === 'newest' ? db`DESC` : db``}
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
}

// Marks a whole batch published in one statement; rows routed to no queue are confirmed at once
// (no consumer will ever record them, so the reconciler has nothing to watch).
export function markPublished(db: Db, ids: readonly string[], unrouted: readonly string[] = []) {
  return db`
    UPDATE outbox SET published_at = now(), last_error = NULL,
      confirmed_at = ${unrouted.length > 0 ? db`CASE WHEN id = ANY(${unrouted as string[]}::uuid[]) THEN now() END` : db`NULL`}
    WHERE id = ANY(${ids as string[]}::uuid[])`;
}

// Records a failed publish of one row; after `maxAttempts` the row is dead and is never tried again
// until an operator requeues it. Until then it waits an exponential delay so it cannot block others.
export function recordPublishFailure(db: Db, id: string, error: string, retry: { maxAttempts: number; baseDelayMs: number }) {
  return db`
    UPDATE outbox SET
      attempts = attempts + 1,
      last_error = ${error.slice(0, 2000)},
      dead_at = CASE WHEN attempts + 1 >= ${retry.maxAttempts} THEN now() END,
      available_at = now() + least(interval '1 millisecond' * ${retry.baseDelayMs} * power(2, attempts), interval '5 minutes')
    WHERE id = ${id}`;
}
