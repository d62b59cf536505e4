// The postgres.js client, configured the same way for every role.
import postgres from 'postgres';
import type { Logger } from 'pino';
import { postgresTls } from '../tls.ts';

export type Sql = postgres.Sql;
export type TxSql = postgres.TransactionSql;
export type ReservedSql = postgres.ReservedSql;
// A query function takes the pool, a transaction or a reserved connection, so callers choose the transaction.
export type Db = Sql | TxSql | ReservedSql;
// A statement piece to nest in another (postgres.js fragments compose).
export type Fragment = postgres.Fragment;

// A value sent as json/jsonb. postgres.js types db.json() for its own JSON type, which plain
// interfaces (an order's items, an event's payload) do not satisfy; this is the one cast of it.
export function asJson(db: Db, value: unknown) {
  return db.json(value as postgres.JSONValue);
}

export interface DbOptions {
  url: string;
  max: number;
  connectTimeoutS: number;
  prepare?: boolean;
  log?: Logger;
}

export function createSql({ url, max, connectTimeoutS, prepare = true, log }: DbOptions): Sql {
  // TLS from libpq's sslmode/sslrootcert/sslcert/sslkey in the URL (see src/tls.ts).
  const tls = postgresTls(url);
  return postgres(tls.url, {
    ...tls.options,
    max,
    prepare,
    // Fail fast when Postgres is away, so the API can answer 503 instead of hanging for 30 s.
    connect_timeout: connectTimeoutS,
    // The wait before a connection tries again after a failed connect. postgres.js's default grows
    // to 20 s (3^n/100 s, n counted across the pool), and queries wait it out before failing: with
    // Postgres down the API took up to 20 s to answer 503, and stayed unavailable for up to 20 s
    // after Postgres was back. Half a second at most still spares a struggling server.
    backoff: reconnectBackoffS,
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    onnotice: (notice) => log?.debug({ notice: notice.message }, 'postgres notice'),
    // count(*) and bigint money columns come back as JS numbers; every value stays far below 2^53.
    types: {
      bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) },
    },
    transform: { undefined: null },
  });
}

// Seconds before the next connect after `retries` failed ones: 50 ms doubling, at most 0.5 s, jittered.
export function reconnectBackoffS(retries: number): number {
  return Math.min(0.05 * 2 ** retries, 0.5) * (0.5 + Math.random() / 2);
}

// Connection failures (as opposed to a bad query) mean "Postgres is unavailable right now".
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
  // too_many_connections: max_connections reached by other clients; a connection may free up
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_ERROR_CODES.has(code);
}

// Whether a query of the transaction failed because its connection is gone: a connection error
// that postgres.js raised for one of the connection's queries (it puts the query on the error). The
// same codes from elsewhere in the transaction's callback (ECONNRESET from Redis while the relay
// publishes) leave the connection alive in its open transaction, holding its rows' locks: it must be
// rolled back and released, or the pool loses it and the rows stay locked until the process exits.
function lostTheConnection(err: unknown): boolean {
  return isConnectionError(err) && typeof err === 'object' && err !== null && 'query' in err;
}

// A transaction on a reserved connection, for callers that send BEGIN together with their first
// statement and COMMIT together with their last (sql.begin() waits for each on its own, two round
// trips more). `fn` must do both; when it throws, the transaction is rolled back here.
export async function inReservedTransaction<T>(sql: Sql, fn: (tx: ReservedSql) => Promise<T>): Promise<T> {
  const tx = await sql.reserve();
  let lost = false;
  try {
    return await fn(tx);
  } catch (err) {
    lost = lostTheConnection(err);
    // Postgres answers a ROLLBACK outside a transaction with a warning, so it is safe wherever fn stopped.
    if (!lost) await tx`ROLLBACK`.catch((rollbackErr: unknown) => (lost = lostTheConnection(rollbackErr)));
    throw err;
  } finally {
    // A connection that closed under us is already back in the pool's closed set, to be reconnected
    // on demand; releasing it would put a dead socket among the open ones.
    if (!lost) tx.release();
  }
}

// Closes a pool when its process (or role) stops. By then nothing of ours is left on it: every role
// has finished its work, so what end() still waits for is each connection's goodbye (Terminate, then
// the server's FIN). A server behind a dead link never answers it, and end() would wait out its
// whole timeout, a stop's grace period with it (seen after a network partition): after a second the
// sockets are destroyed instead.
export const CLOSE_TIMEOUT_S = 1;
export function closeSql(sql: Sql): Promise<void> {
  return sql.end({ timeout: CLOSE_TIMEOUT_S });
}
