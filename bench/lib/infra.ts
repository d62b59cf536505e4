// The run's own Postgres databases and Redis keys. Every database is named outbox_bench_<run>_<label>
// and every BullMQ prefix {bench-<run>-<label>}; cleanup() drops the one and deletes the other,
// whatever happened during the run.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { configSchema, loadConfig, type Config } from '../../src/config.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { ENGINE_MIGRATIONS, ensureDatabase, INVOICE_MIGRATIONS, migrate, ORDER_MIGRATIONS } from '../../src/db/migrate.ts';
import { CpuMeter, redisPid, type CpuProbe } from './cpu.ts';

// The role variables a run may override from its own environment (pool sizes, batch sizes, …).
const NOT_PASSED = new Set(['DATABASE_URL', 'DATABASE_LISTEN_URL', 'REDIS_URL', 'QUEUE_PREFIX', 'PORT', 'METRICS_PORT', 'HOST', 'LOG_LEVEL', 'ADMIN_PASSWORD', 'ADMIN_USER']);

export function projectSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const names = Object.keys(configSchema.shape).filter((k) => !NOT_PASSED.has(k));
  return Object.fromEntries(names.flatMap((k) => (env[k] ? [[k, env[k]!]] : [])));
}

export interface BenchDb {
  name: string;
  url: string;
  sql: Sql; // a small pool for the harness's own queries (backlog fills, counts)
}

export class Infra {
  readonly runId = randomBytes(4).toString('hex');
  readonly serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  readonly redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  readonly settings = projectSettings();
  readonly redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  private readonly dbs = new Map<string, BenchDb>();

  dbUrl(name: string): string {
    const u = new URL(this.serverUrl);
    u.pathname = `/${name}`;
    return u.toString();
  }

  prefix(label: string): string {
    return `{bench-${this.runId}-${label}}`;
  }

  // A fresh database with the project's migrations applied (every set: the engine's, the order
  // service's and the invoice service's, which shares the database here).
  async database(label: string): Promise<BenchDb> {
    const name = `outbox_bench_${this.runId}_${label}`;
    const url = this.dbUrl(name);
    this.dbs.set(name, { name, url, sql: undefined as never });
    await ensureDatabase(url);
    const sql = createSql({ url, max: 4, connectTimeoutS: 10 });
    await migrate(sql, [ENGINE_MIGRATIONS, ORDER_MIGRATIONS, INVOICE_MIGRATIONS]);
    const db = { name, url, sql };
    this.dbs.set(name, db);
    return db;
  }

  // The project's Config as a role of this run would parse it (defaults + the run's settings).
  config(db: BenchDb, label: string, extra: Record<string, string> = {}): Config {
    return loadConfig(this.roleEnv(db, label, extra));
  }

  roleEnv(db: BenchDb, label: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      // A benchmark is one client placing thousands of orders a second: no rate limits, unless the
      // run's own environment sets them (to measure the limiter).
      ORDER_RATE_LIMIT_PER_MINUTE: '0',
      LIST_RATE_LIMIT_PER_MINUTE: '0',
      AUTH_RATE_LIMIT_PER_MINUTE: '0',
      ...this.settings,
      DATABASE_URL: db.url,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix(label),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ADMIN_PASSWORD: 'bench-admin-password',
      SHUTDOWN_GRACE_MS: '5000',
      // Relay and worker processes serve /metrics on their own port: let the OS pick one each.
      METRICS_PORT: '0',
      ...extra,
    };
  }

  // Empties the project's tables between measurements (every role of the database stopped).
  async truncate(db: BenchDb): Promise<void> {
    await db.sql`TRUNCATE orders, outbox, processed_messages, gateway_charges, payments, deliveries, invoices, idempotency_keys`;
  }

  async deleteKeys(pattern: string): Promise<number> {
    if (this.redis.status === 'wait') await this.redis.connect();
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) n += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return n;
  }

  async deletePrefix(label: string): Promise<void> {
    await this.deleteKeys(`${this.prefix(label)}:*`);
  }

  // Postgres here may run with autovacuum off (it does on the machines this was written on): the
  // tables a phase churns then never get statistics, and dead index entries pile up. With
  // `vacuumEveryS` set (--vacuum-every), the harness does autovacuum's job on the run's databases
  // while a phase runs: VACUUM (ANALYZE) of every table, every so many seconds.
  vacuumEveryS: number | undefined;

  maintain(db: BenchDb): () => Promise<void> {
    if (!this.vacuumEveryS) return async () => {};
    let running: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(() => db.sql`VACUUM (ANALYZE)`.catch(() => {}));
    }, this.vacuumEveryS * 1000);
    return async () => {
      clearInterval(timer);
      await running;
    };
  }

  private redisPidValue: Promise<number | undefined> | undefined;

  // A CPU window over the given processes (label → pids), our Postgres backends and Redis.
  cpuProbe(groups: () => Record<string, number[]>): CpuProbe {
    return () => {
      const meter = new CpuMeter();
      return {
        stop: async () => {
          if (this.redis.status === 'wait') await this.redis.connect();
          this.redisPidValue ??= redisPid(() => this.redis.info('server')).catch(() => undefined);
          const admin = [...this.dbs.values()].find((d) => d.sql)?.sql;
          return meter.stop(groups(), admin && { sql: admin, runId: this.runId }, await this.redisPidValue);
        },
      };
    };
  }

  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    for (const db of this.dbs.values()) await db.sql?.end({ timeout: 2 }).catch(() => {});
    const admin = postgres(this.serverUrl, { max: 1, onnotice: () => {} });
    try {
      for (const name of this.dbs.keys()) {
        await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch((err: Error) => problems.push(`drop ${name}: ${err.message}`));
      }
    } finally {
      await admin.end({ timeout: 2 });
    }
    await this.deleteKeys(`{bench-${this.runId}-*`).catch((err: Error) => problems.push(`redis keys: ${err.message}`));
    this.redis.disconnect();
    this.dbs.clear();
    return problems;
  }
}
