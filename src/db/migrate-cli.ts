// `npm run migrate`: create each database of the deployment if missing and apply pending migrations.
import { loadConfig } from '../config.ts';
import { databasePlan } from '../databases.ts';
import { createLogger } from '../logger.ts';
import { createSql } from './client.ts';
import { ensureDatabase, migrate } from './migrate.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'migrate');
for (const db of databasePlan(config)) {
  try {
    await ensureDatabase(db.url, log);
    const sql = createSql({ url: db.url, max: 1, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log });
    const applied = await migrate(sql, db.sets, log).finally(() => sql.end({ timeout: 5 }));
    log.info({ database: db.variable, applied: applied.length }, applied.length ? 'migrations applied' : 'database is up to date');
  } catch (err) {
    log.fatal({ err: (err as Error).message }, `migration failed: check ${db.variable} and that Postgres is running`);
    process.exitCode = 1;
    break;
  }
}
