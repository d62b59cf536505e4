// `npm run audit`: runs the audit oracle against the configured Postgres and Redis. The JSON report
// goes to stdout (or --json FILE), the human summary to stderr, so `npm run -s audit > report.json`
// still shows the verdict. Exit 0: no violations; 1: violations; 2: usage, config or connection error.
import { writeFile } from 'node:fs/promises';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createSql, type Sql } from '../db/client.ts';
import { createLogger } from '../logger.ts';
import { createCommandConnection, waitUntilReady, type RedisConnection } from '../redis/connection.ts';
import { closeQueues, createQueues, type Queues } from '../redis/queues.ts';
import { runAudit } from './audit.ts';
import { parseCliArgs, UsageError, USAGE, type CliArgs } from './cli-args.ts';
import { formatSummary } from './summary.ts';

const REDIS_READY_TIMEOUT_MS = 5000;

// A problem with how the audit was started (not a finding): exit 2 with this message.
class SetupError extends Error {
  override name = 'SetupError';
}

async function main(argv: readonly string[]): Promise<number> {
  let args: CliArgs;
  let config: Config;
  try {
    args = parseCliArgs(argv);
    if (args.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    config = loadConfig();
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n\n${USAGE}`);
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }

  const resources = openResources(config);
  try {
    await checkConnections(config, resources);
    const report = await runAudit({
      sql: resources.sql,
      queues: resources.queues,
      settleMs: args.settleMs,
      lockDurationMs: config.WORKER_LOCK_DURATION_MS,
      limit: args.limit,
      strict: args.strict,
      outboxRetentionMs: config.OUTBOX_RETENTION_S * 1000,
    });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (args.jsonFile) await writeFile(args.jsonFile, json);
    else process.stdout.write(json);
    process.stderr.write(`${formatSummary(report)}\n${args.jsonFile ? `JSON report written to ${args.jsonFile}\n` : ''}`);
    return report.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof SetupError) return fail(err.message);
    return fail(`audit could not finish: ${(err as Error).message ?? String(err)}`);
  } finally {
    await closeResources(resources);
  }
}

interface Resources {
  sql: Sql;
  redis: RedisConnection;
  queues: Queues;
}

function openResources(config: Config): Resources {
  // Silent: connection trouble is reported once, as the exit message, not as a stream of log lines.
  const log = createLogger('silent', 'audit');
  const sql = createSql({ url: config.DATABASE_URL, max: 2, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log });
  const redis = createCommandConnection(config, log, 'outbox-audit');
  const queues = createQueues(redis, config);
  // Without a listener, a queue's re-emitted connection error would crash the process with a stack
  // trace; checkConnections reports an unreachable Redis once, with exit status 2.
  for (const queue of Object.values(queues)) queue.on('error', () => {});
  return { sql, redis, queues };
}

async function checkConnections(config: Config, { sql, redis }: Resources): Promise<void> {
  let hasSchema: boolean;
  try {
    const [row] = await sql<{ outbox: string | null }[]>`SELECT to_regclass('outbox')::text AS outbox`;
    hasSchema = row?.outbox != null;
  } catch (err) {
    throw new SetupError(`cannot reach Postgres at ${safeUrl(config.DATABASE_URL)}: ${(err as Error).message}. Check DATABASE_URL and that Postgres is running.`);
  }
  if (!hasSchema) throw new SetupError(`the database at ${safeUrl(config.DATABASE_URL)} has no outbox table: check DATABASE_URL, or run npm run migrate.`);
  try {
    await waitUntilReady(redis, REDIS_READY_TIMEOUT_MS);
  } catch {
    throw new SetupError(`cannot reach Redis at ${safeUrl(config.REDIS_URL)} within ${REDIS_READY_TIMEOUT_MS} ms. Check REDIS_URL and that Redis is running.`);
  }
}

async function closeResources({ sql, redis, queues }: Resources): Promise<void> {
  await closeQueues(queues).catch(() => {});
  redis.disconnect();
  await sql.end({ timeout: 5 }).catch(() => {});
}

// The URL without its credentials, for error messages.
function safeUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

function fail(message: string): number {
  process.stderr.write(`audit: ${message}\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
