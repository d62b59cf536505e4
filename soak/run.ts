// `npm run soak` (tsx soak/run.ts): the long soak of issue 14, scenario 5. An hour (by default) of
// orders at a moderate rate against api ×2, relay ×2 and worker ×2, each its own process from a
// snapshot of dist/, on a private Postgres cluster and a private persistent redis-server; faults on
// a schedule (soak/faults.ts); a sample every 10 s (soak/sampler.ts); at the end the backlog
// drained, the project's audit run, and a summary with pass/fail criteria (soak/report.ts).
// Exit 0 when every criterion passed, 1 when one failed, 2 on a usage or setup error.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import postgres from 'postgres';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { createOrderQueues } from '../src/orders/queues.ts';
import { createFailFastRedis } from '../src/redis/connection.ts';
import { closeQueues } from '../src/redis/queues.ts';
import { OrderDriver } from './driver.ts';
import { describeFault, startFaults } from './faults.ts';
import { runAuditCli, waitForSettle } from './finish.ts';
import { auditEnv, parseOptions, roleSettings, type SoakOptions, USAGE, UsageError, warmupSec } from './options.ts';
import { killAllNow, sleep } from './proc.ts';
import { formatSummary, summarize } from './report.ts';
import { type Roles, snapshotApp, startRoles } from './roles.ts';
import { progressLine, type Sample, startSampling } from './sampler.ts';
import { type PrivatePostgres, type PrivateRedis, RunDir, startPrivatePostgres, startPrivateRedis, sweepAbandonedRuns } from './servers.ts';

const started = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${msg}`);

let opts: SoakOptions;
try {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    console.log(USAGE);
    process.exit(0);
  }
  opts = parsed;
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`soak: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}

interface Infra {
  runDir: RunDir;
  app: string;
  pg: PrivatePostgres;
  redis: PrivateRedis;
  env: Record<string, string>;
  sql: postgres.Sql;
  harnessRedis: Redis;
  queues: ReturnType<typeof createOrderQueues>;
}

const infra: Partial<Infra> = {};
let cleaning: Promise<void> | undefined;
// Whatever happens: roles killed by pid, servers stopped, the run's directory removed (kept with
// --keep, or when the run failed, for its logs).
const cleanup = (keep: boolean) =>
  (cleaning ??= (async () => {
    killAllNow(); // roles first (they would only log reconnect attempts)
    if (infra.queues) await closeQueues(infra.queues).catch(() => {});
    infra.harnessRedis?.disconnect();
    await infra.sql?.end({ timeout: 2 }).catch(() => {});
    await infra.pg?.stop('fast').catch(() => {});
    await infra.redis?.kill().catch(() => {});
    if (!infra.runDir) return;
    if (keep) {
      infra.runDir.markKept();
      log(`kept ${infra.runDir.dir} (servers' data, logs of every process)`);
    } else await infra.runDir.remove();
  })());
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the soak and cleaning up`);
    void cleanup(opts.keep).finally(() => process.exit(130));
  });
}

async function setUp(): Promise<Infra> {
  for (const line of await sweepAbandonedRuns()) log(line);
  const runDir = new RunDir(opts.runId, opts.keep);
  await runDir.create();
  infra.runDir = runDir;
  log(`run ${opts.runId} in ${runDir.dir}: building dist/ if stale and taking a snapshot of it`);
  const app = snapshotApp(runDir);
  const [pg, redis] = await Promise.all([startPrivatePostgres(runDir), startPrivateRedis(runDir)]);
  Object.assign(infra, { app, pg, redis });
  log(`private Postgres on ${pg.port} (database ${opts.database}), private redis-server on ${redis.port} (AOF, fsync always; prefix ${opts.prefix})`);
  const env = { ...roleSettings(opts), DATABASE_URL: pg.url(opts.database), REDIS_URL: redis.url, QUEUE_PREFIX: opts.prefix };
  execFileSync(process.execPath, ['dist/db/migrate-cli.js'], { cwd: app, env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'warn' }, stdio: 'inherit' });
  const sql = postgres(env.DATABASE_URL, { max: 2, connect_timeout: 2, idle_timeout: 30, onnotice: () => {} });
  const harnessRedis = createFailFastRedis(redis.url, createLogger('silent', 'soak'), 'soak-harness');
  harnessRedis.on('error', () => {});
  const queues = createOrderQueues(harnessRedis, loadConfig(env), () => {});
  Object.assign(infra, { env, sql, harnessRedis, queues });
  return infra as Infra;
}

async function runLoad(i: Infra, roles: Roles) {
  const plannedSec = opts.minutes * 60;
  const driver = new OrderDriver(roles.apiUrls, opts.rate);
  const samples: Sample[] = [];
  let phase: Sample['phase'] = 'load';
  const t0 = Date.now();
  const faults = startFaults(
    { roles, redis: i.redis, pg: i.pg, harnessRedis: i.harnessRedis, sql: i.sql, prefix: opts.prefix, driver, t0 },
    opts.faultEverySec,
    plannedSec - 15,
    (f) => log(describeFault(f)),
  );
  const deps = { sql: i.sql, redis: i.harnessRedis, queues: i.queues, prefix: opts.prefix, roles, driver, t0, faultNow: faults.current };
  driver.start();
  const sampling = startSampling(
    deps,
    opts.sampleEverySec * 1000,
    () => phase,
    (s) => {
      log(progressLine(s, samples[samples.length - 1]));
      samples.push(s);
    },
  );
  log(`load: ${opts.rate} orders/s for ${opts.minutes} min, a fault every ${opts.faultEverySec || '∞'} s`);
  await sleep(plannedSec * 1000);
  log('load time over: waiting for a fault in progress, then stopping the load');
  await faults.stop();
  const loadSec = (Date.now() - t0) / 1000;
  phase = 'settle';
  await driver.stop();
  log(`load stopped: ${driver.counts.accepted} orders accepted; waiting for the backlog (at most ${opts.settleTimeoutSec} s)`);
  const settle = await waitForSettle(i.sql, i.queues, opts.settleTimeoutSec, log);
  await sampling.stop();
  return { loadSec, driver, samples, faults: faults.records, settle };
}

async function main(): Promise<number> {
  const i = await setUp();
  const roles = await startRoles({ app: i.app, runDir: i.runDir, env: i.env }, { api: opts.apis, relay: opts.relays, worker: opts.workers });
  log(`started ${roles.all.map((r) => `${r.name} (pid ${r.pid})`).join(', ')}`);
  const load = await runLoad(i, roles);
  log(`${load.settle.settled ? 'settled' : 'NOT settled'} after ${(load.settle.ms / 1000).toFixed(0)} s; running the audit`);
  const audit = await runAuditCli(i.app, auditEnv(i.env, opts), i.runDir.dir, 0);
  const shutdown = Object.fromEntries(await Promise.all(roles.all.map(async (r) => [r.name, await r.stop()] as const)));
  log('roles stopped with SIGTERM');
  const input = {
    opts,
    loadSec: load.loadSec,
    warmupSec: warmupSec(opts),
    samples: load.samples,
    faults: load.faults,
    roles,
    orders: load.driver.counts,
    settle: load.settle,
    audit,
    shutdown,
  };
  const summary = summarize(input);
  console.log(`\n${formatSummary(input, summary)}`);
  if (opts.json) {
    const out = {
      command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
      options: opts,
      startedAt: new Date(started).toISOString(),
      settings: i.env,
      ...load,
      driver: undefined,
      summary,
    };
    writeFileSync(opts.json, `${JSON.stringify(out, null, 2)}\n`);
    log(`JSON written to ${opts.json}`);
  }
  await cleanup(opts.keep || !summary.pass);
  return summary.pass ? 0 : 1;
}

let code: number;
try {
  code = await main();
} catch (err) {
  console.error(`soak: ${(err as Error).stack ?? String(err)}`);
  await cleanup(true);
  code = 2;
}
process.exit(code);
