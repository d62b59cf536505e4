// Each test file gets its own database and its own BullMQ queue prefix, and removes both at the end.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { ENGINE_MIGRATIONS, ensureDatabase, INVOICE_MIGRATIONS, migrate, ORDER_MIGRATIONS } from '../../src/db/migrate.ts';
import { createLogger, type Logger } from '../../src/logger.ts';

export interface TestContext {
  config: Config;
  sql: Sql;
  // The invoice service's database: its own with `separateInvoices` (or TEST_SEPARATE_INVOICES=1
  // for the whole suite), else the same pool as `sql`.
  invoicesSql: Sql;
  redis: Redis;
  log: Logger;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export const TEST_ADMIN_PASSWORD = 'test-admin-password';

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

// `servers` points a file at its own Postgres or Redis (the fault suite runs private ones it can
// stop and restart); by default the shared ones from the global setup.
export async function createTestContext(
  overrides: Record<string, string> = {},
  servers: { databaseUrl?: string; redisUrl?: string; separateInvoices?: boolean } = {},
): Promise<TestContext> {
  const id = randomBytes(5).toString('hex');
  const databaseUrl = withDatabase(servers.databaseUrl ?? inject('databaseUrl'), `outbox_test_${id}`);
  const redisUrl = servers.redisUrl ?? inject('redisUrl');
  const separate = servers.separateInvoices ?? process.env.TEST_SEPARATE_INVOICES === '1';
  const invoicesUrl = separate ? withDatabase(databaseUrl, `outbox_test_${id}_invoices`) : undefined;
  await ensureDatabase(databaseUrl);
  if (invoicesUrl) await ensureDatabase(invoicesUrl);

  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `{test-${id}}`,
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    RELAY_POLL_INTERVAL_MS: '200',
    JOB_BACKOFF_MS: '20',
    SHUTDOWN_GRACE_MS: '5000',
    // Tests place orders far faster than a customer; test/rate-limit.test.ts turns the limits on.
    ORDER_RATE_LIMIT_PER_MINUTE: '0',
    LIST_RATE_LIMIT_PER_MINUTE: '0',
    AUTH_RATE_LIMIT_PER_MINUTE: '0',
    // Far longer than the test client's own idle timeout (the server's hint less a second): on a
    // busy machine that client's timer can fire late, and it would reuse a socket the server has
    // just closed (ECONNRESET). test/hostile-connections.test.ts sets its own.
    HTTP_KEEPALIVE_TIMEOUT_MS: '65000',
    ...(invoicesUrl ? { INVOICES_DATABASE_URL: invoicesUrl, OUTBOX_SIGNING_KEY: randomBytes(32).toString('base64url') } : {}),
    ...overrides,
  };
  const config = loadConfig(env);
  const log = createLogger(config.LOG_LEVEL, 'test');
  const sql = createSql({ url: databaseUrl, max: 4, connectTimeoutS: 5 });
  await migrate(sql, invoicesUrl ? [ENGINE_MIGRATIONS, ORDER_MIGRATIONS] : [ENGINE_MIGRATIONS, ORDER_MIGRATIONS, INVOICE_MIGRATIONS]);
  const invoicesSql = invoicesUrl ? createSql({ url: invoicesUrl, max: 2, connectTimeoutS: 5 }) : sql;
  if (invoicesUrl) await migrate(invoicesSql, [ENGINE_MIGRATIONS, INVOICE_MIGRATIONS]);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });

  return {
    config,
    sql,
    invoicesSql,
    redis,
    log,
    env,
    async cleanup() {
      await sql.end({ timeout: 5 });
      if (invoicesSql !== sql) await invoicesSql.end({ timeout: 5 });
      await deleteKeys(redis, `${config.QUEUE_PREFIX}:*`);
      redis.disconnect();
      const admin = postgres(withDatabase(databaseUrl, 'postgres'), { max: 1, onnotice: () => {} });
      await admin.unsafe(`DROP DATABASE IF EXISTS "outbox_test_${id}" WITH (FORCE)`);
      if (invoicesUrl) await admin.unsafe(`DROP DATABASE IF EXISTS "outbox_test_${id}_invoices" WITH (FORCE)`);
      await admin.end({ timeout: 5 });
    },
  };
}

async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

// How much longer than on an idle machine a wait may take: the load per core (1-minute average),
// between 1 and 5. CI runs on two cores that other work may share; a deadline that does not scale
// fails there on a busy minute while the code under test is fine.
export function loadFactor(): number {
  return Math.min(5, Math.max(1, os.loadavg()[0]! / os.cpus().length));
}

// A test's own timeout (vitest's it(…, ms)) scaled the same way, so its waits fit inside it.
export const scaled = (ms: number) => Math.round(ms * loadFactor());

// Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`
// (scaled by loadFactor() when the wait starts) with `what` in the message. Tests wait on
// conditions, never on fixed sleeps.
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, baseTimeoutMs = 20_000): Promise<T> {
  const timeoutMs = Math.round(baseTimeoutMs * loadFactor());
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
