// Idempotency-Key for POST /orders and /pizza. The same key with the same request replays the
// first response; with a different request it is a 422; while the first request is still running
// it is a 409. The unique key in Postgres decides, so two racing requests cannot both win.
import { createHash } from 'node:crypto';
import type { Sql } from '../db/client.ts';
import { claimIdempotencyKey, findIdempotencyKey, releaseIdempotencyKey } from '../db/idempotency.ts';

export type KeyClaim = { kind: 'owned' } | { kind: 'replay'; status: number; body: unknown } | { kind: 'in_progress' } | { kind: 'mismatch' };

// A key that was taken but never answered (its request died) can be taken over after this long.
const STALE_AFTER_S = 60;

export function requestHash(path: string, input: unknown): string {
  return createHash('sha256').update(path).update('\n').update(JSON.stringify(input)).digest('hex');
}

export function createIdempotencyKeys(sql: Sql, ttlS: number) {
  return {
    async claim(key: string, hash: string): Promise<KeyClaim> {
      for (let attempt = 0; attempt < 2; attempt++) {
        if (await claimIdempotencyKey(sql, key, hash, ttlS, STALE_AFTER_S)) return { kind: 'owned' };
        const stored = await findIdempotencyKey(sql, key);
        if (!stored) continue; // released between the two statements: try once more
        if (stored.request_hash !== hash) return { kind: 'mismatch' };
        if (stored.response_status === null) return { kind: 'in_progress' };
        return { kind: 'replay', status: stored.response_status, body: stored.response_body };
      }
      return { kind: 'in_progress' };
    },
    release: (key: string) => releaseIdempotencyKey(sql, key),
  };
}
