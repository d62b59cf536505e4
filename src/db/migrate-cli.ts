// `npm run migrate`: create the database if missing and apply pending migrations.
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createSql } from './client.ts';
import { ensureDatabase, migrate } from './migrate.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'migrate');
try {
  await ensureDatabase(config.DATABASE_URL, log);
  const sql = createSql({ url: config.DATABASE_URL, max: 1, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log });
  const applied = await migrate(sql, log);
  log.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'database is up to date');
  await sql.end({ timeout: 5 });
} catch (err) {
  log.fatal({ err }, 'migration failed: check DATABASE_URL and that Postgres is running');
  process.exitCode = 1;
}
