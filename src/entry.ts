// What every entry file does: read config (one clear line on a bad value), prepare the database,
// start the chosen roles, and turn SIGTERM/SIGINT into a graceful stop. A second signal, or the
// grace period running out, forces the exit.
import { ConfigError, loadConfig } from './config.ts';
import { createSql } from './db/client.ts';
import { ensureDatabase, listMigrations, migrate } from './db/migrate.ts';
import { createLogger } from './logger.ts';
import { createSystem, type Role } from './system.ts';

export async function runProcess(name: string, roles: readonly Role[], opts: { prepareDatabase: boolean }): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL, name);

  try {
    const sql = createSql({ url: config.DATABASE_URL, max: 1, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log });
    try {
      if (opts.prepareDatabase) {
        await sql.end();
        await ensureDatabase(config.DATABASE_URL, log);
        const migrator = createSql({ url: config.DATABASE_URL, max: 1, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log });
        await migrate(migrator, log).finally(() => migrator.end({ timeout: 5 }));
      } else {
        await assertMigrated(sql);
      }
    } finally {
      await sql.end({ timeout: 5 });
    }
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot prepare the database: check DATABASE_URL and that Postgres is running');
    process.exit(1);
  }

  const system = createSystem(config, log, roles);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, grace_ms: config.SHUTDOWN_GRACE_MS }, 'shutting down: finishing active work');
    const force = setTimeout(() => {
      log.error('grace period over: exiting with work still active (it will be retried)');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    system.stop().then(
      () => {
        log.info('stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await system.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'could not start');
    process.exit(1);
  }
}

async function assertMigrated(sql: ReturnType<typeof createSql>): Promise<void> {
  const expected = await listMigrations();
  // Only a missing table means "never migrated"; an unreachable Postgres was reported as missing
  // migrations, which sent operators to `npm run migrate` during an outage.
  const rows = await sql<{ name: string }[]>`SELECT name FROM schema_migrations`.catch((err: { code?: string }) => {
    if (err.code === '42P01') return []; // undefined_table
    throw err;
  });
  const applied = new Set(rows.map((r) => r.name));
  const missing = expected.filter((m) => !applied.has(m));
  if (missing.length > 0) throw new Error(`the database lacks migrations ${missing.join(', ')}: run npm run migrate first`);
}
