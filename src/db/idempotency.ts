// Query functions for Idempotency-Key. A key is decided in the order's own transaction: the row is
// inserted first, so a concurrent request with the same key waits on the primary key (scope, key)
// until the first transaction ends, and then sees its committed response, or takes the key if the
// first rolled back. A key row is only ever visible with its response: there is no "in flight" state.
import { asJson, type Db } from './client.ts';

export interface StoredKey {
  request_hash: string;
  response_status: number | null;
  response_body: unknown;
}

// Takes the key for this request, in the caller's transaction. True when this request owns it
// now: it was free, or had expired, or is an unanswered row left by the code before keys were
// decided in the order's transaction (response_status NULL can only be such a row).
export async function claimIdempotencyKey(db: Db, scope: string, key: string, requestHash: string, ttlS: number): Promise<boolean> {
  const rows = await db`
    INSERT INTO idempotency_keys (scope, key, request_hash) VALUES (${scope}, ${key}, ${requestHash})
    ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL, created_at = now()
      WHERE idempotency_keys.created_at < now() - make_interval(secs => ${ttlS})
         OR idempotency_keys.response_status IS NULL
    RETURNING key`;
  return rows.length === 1;
}

// What the first request with this key stored.
export async function findIdempotencyKey(db: Db, scope: string, key: string): Promise<StoredKey | undefined> {
  const [row] = await db<StoredKey[]>`SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE scope = ${scope} AND key = ${key}`;
  return row;
}

// Stores the response in the transaction that made it, so a replay returns exactly what was committed.
export async function completeIdempotencyKey(db: Db, scope: string, key: string, status: number, body: unknown): Promise<void> {
  await db`UPDATE idempotency_keys SET response_status = ${status}, response_body = ${asJson(db, body)} WHERE scope = ${scope} AND key = ${key}`;
}

// Keys past their time to live, at most `limit` per statement (pruned beside the engine's tables).
export async function deleteExpiredIdempotencyKeys(db: Db, olderThanS: number, limit: number): Promise<number> {
  const rows = await db`
    DELETE FROM idempotency_keys WHERE (scope, key) IN (
      SELECT scope, key FROM idempotency_keys
      WHERE created_at < now() - make_interval(secs => ${olderThanS})
      LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING 1`;
  return rows.length;
}
