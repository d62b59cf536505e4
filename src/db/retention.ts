// Query functions for retention: each deletes at most `limit` old rows, so no statement holds
// locks for long and autovacuum keeps up. SKIP LOCKED lets several relays prune side by side.
import type { Db } from './client.ts';

// Outbox rows that were published and confirmed by every consumer (never pending, dead or unconfirmed ones).
export async function deleteOldOutboxRows(db: Db, olderThanS: number, limit: number): Promise<number> {
  const rows = await db`
    DELETE FROM outbox WHERE id IN (
      SELECT id FROM outbox
      WHERE created_at < now() - make_interval(secs => ${olderThanS}) AND confirmed_at IS NOT NULL
      LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING 1`;
  return rows.length;
}

// Inbox rows: kept far longer than any duplicate can arrive (jobs are kept JOB_KEEP_COMPLETED_S).
export async function deleteOldInboxRows(db: Db, olderThanS: number, limit: number): Promise<number> {
  const rows = await db`
    DELETE FROM processed_messages WHERE (consumer, message_id) IN (
      SELECT consumer, message_id FROM processed_messages
      WHERE processed_at < now() - make_interval(secs => ${olderThanS})
      LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING 1`;
  return rows.length;
}
