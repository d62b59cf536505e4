// Idempotency-Key for POST /orders and /pizza, decided in the order's own transaction: the key row
// is inserted first, the order and its event next, the response last, and all of it commits
// together or not at all. A second request with the same key waits on the key's primary key while
// the first is running, then replays what it committed (or takes the key, if the first rolled
// back). One key can never yield two orders, whatever the timing.
//
// Nothing waits for ever, and nothing commits behind a 503. The budget (a little under
// REQUEST_TIMEOUT_MS, so the answer is ours rather than the timeout middleware's) runs by the wall
// clock from the call: the wait for a pool connection and a slow or partitioned network count, not
// only the statements. Postgres enforces what is left of it on every statement (statement_timeout,
// lock_timeout) and cancels and rolls back what runs over; and the transaction is rolled back
// rather than committed if the budget is spent when it starts or when its statements come back.
// What is left is the COMMIT's own round trip, sent with at least a tenth of REQUEST_TIMEOUT_MS to
// spare: if its answer comes later still, the client's retry with the same key replays the 201.
// Waiting for a running request with the same key past the budget is a 409 (retry later); the order
// itself past it is a 503 (retry with the key).
//
// Keys belong to their caller (the scope): `customer:<id>` for a customer, `staff`, or `anonymous`.
// Anonymous callers share one scope, so their keys must be unguessable (a UUID): whoever sends
// another's key and body gets that order's response replayed, access token included.
import { createHash } from 'node:crypto';
import type { Sql, TxSql } from '../db/client.ts';
import { claimIdempotencyKey, completeIdempotencyKey, findIdempotencyKey } from '../db/idempotency.ts';
import { ProblemError } from './problem.ts';

export type KeyOutcome<T> = { kind: 'done'; value: T } | { kind: 'replay'; status: number; body: unknown } | { kind: 'mismatch' } | { kind: 'busy' };

export interface KeyedRequest {
  scope: string;
  key: string;
  hash: string;
}

export function requestHash(path: string, input: unknown): string {
  return createHash('sha256').update(path).update('\n').update(JSON.stringify(input)).digest('hex');
}

// Postgres's way of saying "a statement ran past statement_timeout" and "a lock wait ran past lock_timeout".
const TIMED_OUT = new Set(['57014', '55P03']);
export const isTimeout = (err: unknown) => TIMED_OUT.has((err as { code?: string } | null)?.code ?? '');

// Runs `work` (the order's statements) and the key's bookkeeping in one transaction within
// `budgetMs`. `respond` gives the response to store with the key.
export async function withIdempotencyKey<T>(
  sql: Sql,
  request: KeyedRequest,
  opts: { ttlS: number; budgetMs: number },
  work: (tx: TxSql) => Promise<T>,
  respond: (value: T) => { status: number; body: unknown },
): Promise<KeyOutcome<T>> {
  const deadline = performance.now() + opts.budgetMs;
  const left = () => Math.floor(deadline - performance.now());
  const outcome = sql.begin(async (tx) => {
    if (left() <= 0) throw timedOut(); // the connection came too late: the key is not even taken
    const ms = String(left());
    await tx`SELECT set_config('statement_timeout', ${ms}, true), set_config('lock_timeout', ${ms}, true)`;
    const claimed = await claimOrWait(tx, request, opts.ttlS);
    if (claimed !== true) return claimed;
    try {
      const value = await work(tx);
      const response = respond(value);
      await completeIdempotencyKey(tx, request.scope, request.key, response.status, response.body);
      // The statements came back past the budget (a slow network): roll back, never commit behind a 503.
      if (left() <= 0) throw timedOut();
      return { kind: 'done', value } as const;
    } catch (err) {
      if (isTimeout(err)) throw timedOut();
      throw err;
    }
  });
  // The wait for the key timed out: the transaction is rolled back whole, nothing to keep of it.
  return (outcome as Promise<KeyOutcome<T>>).catch((err: unknown) => {
    if (err instanceof KeyBusy) return { kind: 'busy' } as const;
    throw err;
  });
}

class KeyBusy extends Error {}

const timedOut = () =>
  new ProblemError(503, 'Request timed out', 'Storing the order took too long and was cancelled: nothing was stored. Retry with the same Idempotency-Key.', {
    'retry-after': '1',
  });

// True when this transaction owns the key now; otherwise what the first request left.
async function claimOrWait<T>(tx: TxSql, { scope, key, hash }: KeyedRequest, ttlS: number): Promise<true | KeyOutcome<T>> {
  try {
    if (await claimIdempotencyKey(tx, scope, key, hash, ttlS)) return true;
  } catch (err) {
    if (isTimeout(err)) throw new KeyBusy(); // the first request is still running
    throw err;
  }
  // The first request committed (this statement sees it: READ COMMITTED takes a new snapshot).
  const stored = await findIdempotencyKey(tx, scope, key);
  if (!stored) return { kind: 'busy' }; // pruned in between: rare; the client's retry takes the key
  if (stored.request_hash !== hash) return { kind: 'mismatch' };
  return { kind: 'replay', status: stored.response_status ?? 500, body: stored.response_body };
}
