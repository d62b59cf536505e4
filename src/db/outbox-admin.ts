// Query functions for operators: list rows still to publish or dead, replay one, requeue a dead one.
import type { Db } from './client.ts';

export interface OutboxListing {
  id: string;
  aggregate_id: string;
  event_type: string;
  created_at: Date;
  age_seconds: number;
  attempts: number;
  last_error: string | null;
  dead_at: Date | null;
  published_at: Date | null;
}

// Rows still to publish (pending) or given up on (dead), oldest first.
export async function listOutboxRows(db: Db, state: 'pending' | 'dead', limit: number): Promise<OutboxListing[]> {
  return db<OutboxListing[]>`
    SELECT id, aggregate_id, event_type, created_at, attempts, last_error, dead_at, published_at,
           extract(epoch FROM now() - created_at)::float8 AS age_seconds
    FROM outbox
    WHERE ${state === 'dead' ? db`dead_at IS NOT NULL` : db`published_at IS NULL AND dead_at IS NULL`}
    ORDER BY created_at
    LIMIT ${limit}`;
}

export async function findOutboxRow(db: Db, id: string): Promise<OutboxListing | undefined> {
  const [row] = await db<OutboxListing[]>`
    SELECT id, aggregate_id, event_type, created_at, attempts, last_error, dead_at, published_at,
           extract(epoch FROM now() - created_at)::float8 AS age_seconds
    FROM outbox WHERE id = ${id}`;
  return row;
}

// Hands a published row back to the relay to be published again.
export async function markForReplay(db: Db, id: string): Promise<boolean> {
  const rows = await db`
    UPDATE outbox SET published_at = NULL, confirmed_at = NULL, available_at = now()
    WHERE id = ${id} AND dead_at IS NULL RETURNING id`;
  return rows.length === 1;
}

// Brings a dead row back with a fresh set of attempts (after the cause was fixed).
export async function requeueDeadRow(db: Db, id: string): Promise<boolean> {
  const rows = await db`
    UPDATE outbox SET dead_at = NULL, attempts = 0, available_at = now(), published_at = NULL
    WHERE id = ${id} AND dead_at IS NOT NULL RETURNING id`;
  return rows.length === 1;
}

export interface EventRange {
  type: string;
  since: Date;
  until?: Date | undefined;
}

// Published, live rows of one event type written in [since, until), a page at a time after
// `after` (keyset on created_at, id), for a bulk replay.
export async function findPublishedInRange(db: Db, range: EventRange, limit: number, after?: { createdAt: Date; id: string }): Promise<Array<{ id: string; created_at: Date }>> {
  return db<Array<{ id: string; created_at: Date }>>`
    SELECT id, created_at FROM outbox
    WHERE event_type = ${range.type} AND published_at IS NOT NULL AND dead_at IS NULL
      AND created_at >= ${range.since} ${range.until ? db`AND created_at < ${range.until}` : db``}
      ${after ? db`AND (created_at, id) > (${after.createdAt}, ${after.id})` : db``}
    ORDER BY created_at, id
    LIMIT ${limit}`;
}

// How many rows findPublishedInRange will page through, for progress.
export async function countPublishedInRange(db: Db, range: EventRange): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    SELECT count(*)::int AS n FROM outbox
    WHERE event_type = ${range.type} AND published_at IS NOT NULL AND dead_at IS NULL
      AND created_at >= ${range.since} ${range.until ? db`AND created_at < ${range.until}` : db``}`;
  return row!.n;
}
