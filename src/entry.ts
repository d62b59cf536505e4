// What every entry file does: read config (one clear line on a bad value), prepare the database,
// start the chosen roles, and turn SIGTERM/SIGINT into a graceful stop. A second signal, or the
// grace period running out, forces the exit.
import { ConfigError, loadConfig, type Config } from './config.ts';
import { databasePlan } from './databases.ts';
import { createSql } from './db/client.ts';
import { assertPatchedDriver } from './db/driver-guard.ts';
import { ensureDatabase, migrate, MigrationStateError, missingMigrations } from './db/migrate.ts';
import { createLogger } from './logger.ts';
import { createSystem, type Role } from './system.ts';
import { startTracing, type Tracing } from './telemetry.ts';
import { isTlsFailure, postgresRefusedMessage, TlsRefusedError, transportWarnings } from './tls.ts';

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
  // OpenTelemetry from the standard environment (OTEL_TRACES_EXPORTER=otlp|console); off by default.
  let tracing: Tracing | undefined;
  try {
    tracing = await startTracing(roles.join(','));
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(1);
  }
  if (tracing) log.info({ exporters: tracing.exporters }, 'tracing on');

  try {
    assertPatchedDriver();
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(1);
  }
  for (const warning of transportWarnings(config)) log.warn(warning);
  await prepareDatabases(config, log, opts.prepareDatabase);
  await checkListenTls(config, log);

  const system = createSystem(config, log, roles);
  let stopping = false;
  let firstSignalAt = 0;
  const shutdown = (signal: string) => {
    if (stopping) {
      if (isForwardedCopy(firstSignalAt)) {
        log.info({ signal }, 'the same stop request again (npm forwards what the terminal also sent): still stopping gracefully');
        return;
      }
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    firstSignalAt = Date.now();
    log.info({ signal, grace_ms: config.SHUTDOWN_GRACE_MS }, 'shutting down: finishing active work');
    const force = setTimeout(() => {
      log.error(
        { waiting_on: system.stoppingOn(), grace_ms: config.SHUTDOWN_GRACE_MS },
        'grace period over: exiting with work still active (it will be retried); raise SHUTDOWN_GRACE_MS if this is routine',
      );
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    system
      .stop()
      .then(() => tracing?.shutdown().catch(() => {})) // the last spans go out before the exit
      .then(
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
    if (err instanceof TlsRefusedError) log.fatal(err.message);
    else log.fatal({ err: (err as Error).message }, 'could not start');
    process.exit(1);
  }
}

// Under `npm start` (npm, pnpm and yarn set npm_lifecycle_event), the script runner forwards every
// SIGINT/SIGTERM it gets to this process, and a Ctrl-C in the terminal (or a stop sent to the whole
// process group, as systemd does) reaches both: one request arrives twice, milliseconds apart. A
// repeat that soon is that copy, not an operator asking to force the exit. Run directly (Docker,
// the tests), every second signal forces the exit.
const FORWARDED_COPY_WINDOW_MS = 1000;
function isForwardedCopy(firstSignalAt: number): boolean {
  return process.env.npm_lifecycle_event !== undefined && Date.now() - firstSignalAt < FORWARDED_COPY_WINDOW_MS;
}

// `npm start` creates and migrates its databases; a role process only checks them, so a deploy
// migrates once (npm run migrate) and no role starts on a schema it does not know.
async function prepareDatabases(config: Config, log: ReturnType<typeof createLogger>, migrateThem: boolean): Promise<void> {
  for (const db of databasePlan(config)) {
    try {
      if (migrateThem) await ensureDatabase(db.url, log);
      const sql = createSql({ url: db.url, max: 1, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log });
      try {
        if (migrateThem) await migrate(sql, db.sets, log);
        else {
          const missing = await missingMigrations(sql, db.sets);
          if (missing.length > 0) throw new MigrationStateError(`the database of ${db.variable} lacks migrations ${missing.join(', ')}: run npm run migrate first`);
        }
      } finally {
        await sql.end({ timeout: 5 });
      }
    } catch (err) {
      const hint =
        err instanceof MigrationStateError
          ? ''
          : (err as { code?: string }).code === '53300'
            ? `: Postgres at ${db.variable} has no connection left (max_connections reached): close idle clients, raise max_connections or put PgBouncer in front; each process needs PG_POOL_MAX + 1`
            : (err as { code?: string }).code === '3D000'
              ? `: the database of ${db.variable} does not exist: run npm run migrate (or npm start), which creates and migrates it`
              : `: check ${db.variable} and that Postgres is running`;
      if (isTlsFailure(err)) log.fatal(postgresRefusedMessage(db.variable, db.url, err));
      else log.fatal({ err: (err as Error).message }, `cannot prepare the database${hint}`);
      process.exit(1);
    }
  }
}

// The relays' LISTEN connection takes no part in migrations, so its TLS is tried on its own: a
// refused certificate stops the process; Postgres merely away is the relay's to wait out.
async function checkListenTls(config: Config, log: ReturnType<typeof createLogger>): Promise<void> {
  if (!config.DATABASE_LISTEN_URL) return;
  const sql = createSql({ url: config.DATABASE_LISTEN_URL, max: 1, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log });
  try {
    await sql`SELECT 1`;
  } catch (err) {
    if (!isTlsFailure(err)) return;
    log.fatal(postgresRefusedMessage('DATABASE_LISTEN_URL', config.DATABASE_LISTEN_URL, err));
    process.exit(1);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
