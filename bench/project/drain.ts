// Relay drain: the api idle and no workers, a backlog of committed outbox rows (100k in the default
// run) is filled in one statement while the relay (src/relay/main.ts, own process) is idle; the
// clock starts when the fill has committed and a NOTIFY has woken the relay, and stops when no row
// is left unpublished; then the same once more with the outbox analyzed first. The relay's RSS
// after a forced GC, idle and after these backlogs, is recorded. The seeds' stand-in drains the
// same backlog, time-capped. (The large backlog and the memory check over it are the `backlog`
// phase: project/backlog.ts.)
import { Queue } from 'bullmq';
import { createLogger } from '../../src/logger.ts';
import { createFailFastRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { WAKE_CHANNEL } from '../../src/relay/notifier.ts';
import { sleep, wallNow } from '../lib/clock.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import type { CpuProbe } from '../lib/cpu.ts';
import { claimPlan } from './claim-plan.ts';
import { BACKLOG_SQL } from '../lib/payload.ts';
import { memoryAfterGc, startHelper, startRole, type Child } from '../lib/procs.ts';
import type { Profile } from '../lib/profile.ts';
import { round } from '../lib/stats.ts';

async function counts(db: BenchDb) {
  const [row] = await db.sql<{ left: number; published: number }[]>`
    SELECT count(*) FILTER (WHERE published_at IS NULL AND dead_at IS NULL)::int AS left,
           count(*) FILTER (WHERE published_at IS NOT NULL)::int AS published FROM outbox`;
  return row!;
}

async function anyLeft(db: BenchDb): Promise<boolean> {
  const [row] = await db.sql<{ left: boolean }[]>`SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND dead_at IS NULL) AS left`;
  return row!.left;
}

// Fills `rows` in one transaction (then ANALYZEs the outbox when asked), wakes the relay, and
// times the drain (or stops at `capMs`).
async function drain(db: BenchDb, rows: number, capMs: number, cpuProbe: CpuProbe, analyze = false) {
  const f0 = wallNow();
  await db.sql.unsafe(BACKLOG_SQL, [rows]);
  if (analyze) await db.sql`ANALYZE outbox`;
  const fillSeconds = (wallNow() - f0) / 1000;
  const plan = await claimPlan(db, 200).catch(() => undefined);
  const cpu = cpuProbe();
  const t0 = wallNow();
  await db.sql.notify(WAKE_CHANNEL, '');
  while ((await anyLeft(db)) && wallNow() - t0 < capMs) await sleep(20);
  const seconds = (wallNow() - t0) / 1000;
  const cpuUse = await cpu.stop();
  const { left, published } = await counts(db);
  // When the first row was published (a relay that only polls starts up to a poll interval late).
  const [first] = await db.sql<{ ms: number }[]>`SELECT (extract(epoch FROM min(published_at)) * 1000)::float8 AS ms FROM outbox`;
  const startLagS = Math.max(0, (first!.ms - t0) / 1000);
  return {
    rows,
    analyzed: analyze,
    published,
    left,
    seconds: round(seconds, 2),
    rowsPerS: round(published / seconds, 1),
    startLagS: round(startLagS, 3),
    rowsPerSOnceStarted: round(published / (seconds - startLagS), 1),
    fillSeconds: round(fillSeconds, 2),
    claimPlanBefore: plan,
    cpu: cpuUse,
  };
}

export async function benchDrain(infra: Infra, db: BenchDb, profile: Profile) {
  const config = infra.config(db, 'drain');
  await infra.truncate(db);
  const env = infra.roleEnv(db, 'drain');
  const redis = createFailFastRedis(infra.redisUrl, createLogger('silent', 'bench'), 'bench-drain');
  await waitUntilReady(redis, 5000);
  const payments = new Queue('payments', { connection: redis, prefix: config.QUEUE_PREFIX });
  let relay: Child | undefined;
  const endMaintenance = infra.maintain(db);
  try {
    relay = await startRole('relay', 'src/relay/main.ts', env);
    await sleep(500);
    const idle = await memoryAfterGc(relay);
    const probe = infra.cpuProbe(() => ({ relay: relay ? [relay.pid] : [] }));
    // As the relay finds it: a fresh backlog on a table without statistics (autovacuum is off here).
    const ours = await drain(db, profile.drainRows, 10 * 60_000, probe);
    const jobsInRedis = await payments.getJobCountByTypes('wait');
    // The same after ANALYZE, as autovacuum would leave it within a minute.
    await payments.drain();
    await infra.truncate(db);
    const oursAnalyzed = await drain(db, profile.drainRows, 10 * 60_000, probe, true);
    await sleep(1000);
    const afterFirst = await memoryAfterGc(relay);

    const stopped = await relay.stop();
    relay = undefined;

    await payments.drain();
    await infra.truncate(db);
    const seedRelay = await startHelper('relay-seeds', 'bench/project/seed-relay.ts', env);
    relay = seedRelay;
    const seeds = await drain(db, profile.drainRows, profile.seedDrainCapMs, probe);
    await seedRelay.stop();
    relay = undefined;

    return {
      ours: { ...ours, jobsInRedis, batchSize: config.RELAY_BATCH_SIZE, concurrency: config.RELAY_CONCURRENCY },
      oursAnalyzed,
      seeds,
      memory: {
        firstRows: profile.drainRows,
        relayIdle: idle,
        relayAfterFirst: afterFirst,
        relayRssAfterFirstMb: afterFirst?.rssMb,
        relayPeakRssMb: stopped?.peakMb,
      },
    };
  } finally {
    await endMaintenance();
    await relay?.stop();
    await payments.close();
    redis.disconnect();
    await infra.deletePrefix('drain');
    await infra.truncate(db);
  }
}
