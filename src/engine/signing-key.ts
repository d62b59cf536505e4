// Where the signing key comes from: OUTBOX_SIGNING_KEY when set (required for a consumer in another
// database, which must share the producer's key), else a random key the engine keeps in its own
// table, created by the first process that needs it, so every process on one database agrees
// without anyone choosing a secret (and none ships as a default).
import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/client.ts';
import { createSigner, type Signer } from './signing.ts';

export async function storedSigningKey(sql: Sql): Promise<string> {
  const candidate = randomBytes(32).toString('base64url');
  const read = () => sql<{ key: string }[]>`
    WITH created AS (
      INSERT INTO outbox_signing_key (id, key) VALUES (1, ${candidate}) ON CONFLICT (id) DO NOTHING RETURNING key
    )
    SELECT key FROM created UNION ALL SELECT key FROM outbox_signing_key WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM created)`;
  let rows = await read();
  // A concurrent first insert committed after this statement's snapshot: read again.
  if (rows.length === 0) rows = await read();
  const [row] = rows;
  if (!row) throw new Error('could not read or create the outbox signing key');
  return row.key;
}

// A signer that is usable once `resolve` has run (at the engine's start).
export function deferredSigner(): Signer & { resolve(keys: readonly string[]): void; ready(): boolean } {
  let signer: Signer | undefined;
  const current = () => {
    if (!signer) throw new Error('the outbox engine is not started: its signing key is not loaded yet');
    return signer;
  };
  return {
    sign: (e) => current().sign(e),
    problem: (e, s) => current().problem(e, s),
    resolve: (keys) => {
      signer = createSigner(keys);
    },
    ready: () => signer !== undefined,
  };
}
