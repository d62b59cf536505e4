// Query functions for Idempotency-Key: the unique key is what serialises concurrent requests,
// never a check followed by an insert.
import { asJson, type Db } from './client.ts';

export interface StoredKey {
  request_hash: string;
  response_status: number | null;
  response_body: unknown;
}

// Takes the key for this request. Returns true when this request owns it now: it was free, or it
// had expired, or its first request died without finishing (`staleAfterS` without a response).
export async function claimIdempotencyKey(db: Db, key: string, requestHash: string, ttlS: number, staleAfterS: number): Promise<boolean> {
  const rows = await db`
    INSERT INTO idempotency_keys (key, request_hash) VALUES (${key}, ${requestHash})
    ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL, created_at = now()
      WHERE idempotency_keys.created_at < now() - make_interval(secs => ${ttlS})
         OR (idempotency_keys.response_status IS NULL AND idempotency_keys.created_at < now() - make_interval(secs => ${staleAfterS}))
    RETURNING key`;
  return rows.length === 1;
}

// What the first request with this key stored (or is still working on).
export async function findIdempotencyKey(db: Db, key: string): Promise<StoredKey | undefined> {
  const [row] = await db<StoredKey[]>`SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE key = ${key}`;
  return row;
}

// Stores the response in the transaction that made it, so a replay returns exactly what was committed.
export async function completeIdempotencyKey(db: Db, key: string, status: number, body: unknown): Promise<void> {
  await db`UPDATE idempotency_keys SET response_status = ${status}, response_body = ${asJson(db, body)} WHERE key = ${key}`;
}

// Frees a key whose request failed before committing, so the client can retry with it.
export async function releaseIdempotencyKey(db: Db, key: string): Promise<void> {
  await db`DELETE FROM idempotency_keys WHERE key = ${key} AND response_status IS NULL`;
}

// Keys past their time to live, at most `limit` per statement (pruned beside the engine's tables).
export async function deleteExpiredIdempotencyKeys(db: Db, olderThanS: number, limit: number): Promise<number> {
  const rows = await db`
    DELETE FROM idempotency_keys WHERE key IN (
      SELECT key FROM idempotency_keys
      WHERE created_at < now() - make_interval(secs => ${olderThanS})
      LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING 1`;
  return rows.length;
}
