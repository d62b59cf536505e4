// What the operator tools (audit, demo, outbox admin) open next to a running service: a small
// Postgres pool, a fail-fast Redis connection and the queues, checked up front so an unreachable
// service is reported once, as one line saying what to do, never as a stream of stack traces.
import type { Config } from './config.ts';
import { createSql, type Sql } from './db/client.ts';
import { createLogger } from './logger.ts';
import { createCommandConnection, waitUntilReady, type RedisConnection } from './redis/connection.ts';
import { closeQueues } from './redis/queues.ts';
import { createOrderQueues, type OrderQueues } from './orders/queues.ts';
import { isTlsFailure, postgresRefusedMessage, TlsRefusedError } from './tls.ts';

const REDIS_READY_TIMEOUT_MS = 5000;

// A problem with the tool's surroundings (config, connections), reported with exit status 2.
export class SetupError extends Error {
  override name = 'SetupError';
}

// A tool started with arguments it cannot use, reported with its usage and exit status 2.
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ToolConnections {
  sql: Sql;
  redis: RedisConnection;
  queues: OrderQueues;
}

export function openToolConnections(config: Config, name: string, sqlMax = 2): ToolConnections {
  // Silent: trouble is reported once by checkToolConnections, as the exit message.
  const log = createLogger('silent', name);
  const sql = createSql({ url: config.DATABASE_URL, max: sqlMax, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, prepare: config.PG_PREPARE, log });
  const redis = createCommandConnection(config, log, name);
  const queues = createOrderQueues(redis, config);
  return { sql, redis, queues };
}

// `hint` says what to do when a connection points at the wrong place, e.g. "use the service's DATABASE_URL".
export async function checkToolConnections(config: Config, { sql, redis }: ToolConnections, hint: { database: string; redis: string }): Promise<void> {
  let hasSchema: boolean;
  try {
    const [row] = await sql<{ outbox: string | null }[]>`SELECT to_regclass('outbox')::text AS outbox`;
    hasSchema = row?.outbox != null;
  } catch (err) {
    if (isTlsFailure(err)) throw new SetupError(postgresRefusedMessage('DATABASE_URL', config.DATABASE_URL, err), { cause: err });
    throw new SetupError(`cannot reach Postgres at ${safeUrl(config.DATABASE_URL)}: ${(err as Error).message}. ${hint.database}`, { cause: err });
  }
  if (!hasSchema) throw new SetupError(`the database at ${safeUrl(config.DATABASE_URL)} has no outbox table: ${hint.database}, or run npm run migrate.`);
  try {
    await waitUntilReady(redis, REDIS_READY_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof TlsRefusedError) throw new SetupError(err.message, { cause: err });
    throw new SetupError(`cannot reach Redis at ${safeUrl(config.REDIS_URL)} within ${REDIS_READY_TIMEOUT_MS} ms. ${hint.redis}`);
  }
}

export async function closeToolConnections({ sql, redis, queues }: ToolConnections): Promise<void> {
  await closeQueues(queues).catch(() => {});
  redis.disconnect();
  await sql.end({ timeout: 5 }).catch(() => {});
}

// The URL without its credentials, for messages.
export function safeUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}
