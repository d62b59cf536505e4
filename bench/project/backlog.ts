// Backlog: "with a million unpublished rows (say after a long Redis outage), the relay drains them
// at a steady rate with bounded memory, and the API keeps answering within its normal latency
// while it does." The api (src/api/main.ts) and one relay (src/relay/main.ts) run in their own
// processes; the harness sends POST /orders at a fixed, modest rate (open loop) the whole time.
//  1. baseline: the API's latency at that rate with the relay publishing its orders as they come;
//  2. a backlog of `backlogRows` order.created rows (1M in the default run) is filled and analyzed
//     in one transaction (lib/fill.ts: the statistics the relay's own VACUUM (ANALYZE), or
//     autovacuum, would have gathered during a long outage), the relay idle meanwhile;
//  3. drain: from the commit (and a NOTIFY) until the last backlog row is published, with the same
//     load on the API. Every 100 ms the drain's progress (the oldest and newest rows still
//     unpublished); every second the relay's RSS and heap (no forced GC), Redis' memory and whether a VACUUM or ANALYZE
//     of ours runs. The relay's RSS after a forced GC before (after a warm-up drain of `drainRows`
//     rows and the baseline) and after: the memory target.
// No workers: the figures asked for are the relay's and the API's, and workers would turn a million
// jobs into a million failed steps (the backlog names orders that do not exist) on the same two
// cores. A trimmer stands in for the consumers: it pops jobs off the payments queue and deletes
// them as they arrive, so Redis holds a bounded number of jobs.
import type { Redis } from 'ioredis';
import { Redis as IORedis } from 'ioredis';
import { WAKE_CHANNEL } from '../../src/relay/notifier.ts';
import { sleep, waitUntil, wallNow } from '../lib/clock.ts';
import type { CpuUse } from '../lib/cpu.ts';
import { fillAnalyzed, progress } from '../lib/fill.ts';
import { httpPlacer } from '../lib/http-orders.ts';
import { pgActivityWindow } from '../lib/pg-activity.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import type { Place } from '../lib/load.ts';
import { freePort, memoryAfterGc, memoryNow, readRss, startRole, type Child } from '../lib/procs.ts';
import type { Profile } from '../lib/profile.ts';
import { quantile, round, summarize, type Summary } from '../lib/stats.ts';
import { claimPlan } from './claim-plan.ts';

interface Sent {
  at: number; // wallNow() when the request was sent
  ms: number; // until its 201 was read (or it failed)
  ok: boolean;
}

// Open loop at `rate` orders/s until stopped; every request's send time and latency.
function steadyLoad(place: Place, rate: number) {
  const sent: Sent[] = [];
  const pending = new Set<Promise<void>>();
  let stopped = false;
  const loop = (async () => {
    const t0 = wallNow();
    let n = 0;
    while (!stopped) {
      const due = Math.floor(((wallNow() - t0) * rate) / 1000) + 1;
      while (n < due) {
        n++;
        const at = wallNow();
        const p = place().then(
          ({ t }) => void sent.push({ at, ms: t - at, ok: true }),
          () => void sent.push({ at, ms: wallNow() - at, ok: false }),
        );
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await sleep(1);
    }
  })();
  return {
    async stop(): Promise<Sent[]> {
      stopped = true;
      await loop;
      await Promise.all(pending);
      return sent.sort((a, b) => a.at - b.at);
    },
  };
}

const latencyOf = (sent: readonly Sent[]) => summarize(sent.filter((s) => s.ok).map((s) => s.ms));

// Pops jobs off the payments queue as the relay adds them and deletes them (a consumer that does
// nothing): BullMQ LPUSHes a job's id onto `<prefix>:payments:wait` and keeps its data in the
// hash `<prefix>:payments:<id>`.
function startTrimmer(redis: Redis, prefix: string) {
  const waitKey = `${prefix}:payments:wait`;
  let trimmed = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const ids = ((await redis.rpop(waitKey, 2000).catch(() => null)) ?? []) as string[];
      if (ids.length > 0) {
        await redis.unlink(...ids.map((id) => `${prefix}:payments:${id}`)).catch(() => 0);
        trimmed += ids.length;
      }
      if (ids.length < 2000) await sleep(200);
    }
  })();
  return {
    trimmed: () => trimmed,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

interface Sample {
  t: number; // s since the drain started
  taken: number; // backlog rows taken by the relay so far
  relayRssMb?: number;
  relayHeapMb?: number;
  redisUsedMb?: number;
  vacuum?: string; // 'vacuum' / 'analyze' when one of ours was running on the run's database
}

// Rows taken at time t, linearly between the progress samples.
function takenAt(points: ReadonlyArray<readonly [number, number]>, t: number): number {
  let prev = points[0]!;
  for (const p of points) {
    if (p[0] >= t) return p[0] === prev[0] ? p[1] : prev[1] + ((p[1] - prev[1]) * (t - prev[0])) / (p[0] - prev[0]);
    prev = p;
  }
  return prev[1];
}

export async function benchBacklog(infra: Infra, db: BenchDb, profile: Profile) {
  const label = 'backlog';
  const config = infra.config(db, label);
  await infra.truncate(db);
  const port = await freePort();
  const env = infra.roleEnv(db, label, { PORT: String(port) });
  const rate = profile.backlogApiRate;
  const redis = new IORedis(infra.redisUrl, { maxRetriesPerRequest: 3 });
  const trimmer = startTrimmer(redis, config.QUEUE_PREFIX);
  const http = httpPlacer(`http://127.0.0.1:${port}`);
  let api: Child | undefined;
  let relay: Child | undefined;
  let memTimer: NodeJS.Timeout | undefined;
  try {
    [api, relay] = await Promise.all([startRole('api', 'src/api/main.ts', env), startRole('relay', 'src/relay/main.ts', env)]);
    const relayStartedAt = wallNow();
    const cpuProbe = infra.cpuProbe(() => ({ api: [api!.pid], relay: [relay!.pid] }));

    // Warm-up (discarded): the relay drains a first, small backlog (`drainRows`) while the API takes
    // orders at the rate, so the memory reference below is a relay that has run full batches.
    const warmLoad = await startFor(http.place, rate, 0);
    await fillAnalyzed(db, profile.drainRows);
    await db.sql.notify(WAKE_CHANNEL, '');
    await sleep(Math.max(profile.warmMs, 1500));
    await waitUntil('the warm-up backlog to drain', async () => !(await anyLeft(db)), 10 * 60_000, 50);
    await warmLoad.stop();
    await infra.truncate(db);
    // The baseline: the same rate, the relay publishing orders as they come.
    const baselineCpu = cpuProbe();
    const baselinePg = await pgActivityWindow(db);
    const baselineLoad = steadyLoad(http.place, rate);
    await sleep(profile.backlogBaselineMs);
    const baselineSent = await baselineLoad.stop();
    const baselineCpuUse = await baselineCpu.stop();
    const baselinePgUse = await baselinePg.stop();
    await waitUntil('the relay to publish the baseline orders', async () => !(await anyLeft(db)), profile.settleMs, 50);
    const baselineClaimLag = await claimLag(db, 'created_at < now()');
    await sleep(500);
    const relayBefore = await memoryAfterGc(relay);

    // The backlog, committed with its statistics while the relay idles.
    const fill = await fillAnalyzed(db, profile.backlogRows);
    const planBefore = await claimPlan(db, config.RELAY_BATCH_SIZE).catch(() => undefined);
    const [lastRow] = await db.sql<{ last: string }[]>`SELECT max(created_at)::text AS last FROM outbox`;

    // The drain, under the same load.
    const samples: Sample[] = [];
    const points: Array<[number, number]> = [[0, 0]];
    const t0 = wallNow();
    const cpu = cpuProbe();
    const pg = await pgActivityWindow(db);
    const load = steadyLoad(http.place, rate);
    await db.sql.notify(WAKE_CHANNEL, '');
    let sampling = Promise.resolve();
    const sampleOnce = () => {
      sampling = sampling.then(async () => {
        const t = round((wallNow() - t0) / 1000, 2);
        const rss = relay && readRss(relay.pid);
        const [heap, redisInfo, vac] = await Promise.all([
          relay ? memoryNow(relay, 900) : undefined,
          infra.redis.info('memory').catch(() => ''),
          db.sql<{ what: string | null }[]>`
            SELECT COALESCE((SELECT 'vacuum' FROM pg_stat_progress_vacuum WHERE datname = current_database() LIMIT 1),
                            (SELECT 'analyze' FROM pg_stat_progress_analyze WHERE datname = current_database() LIMIT 1)) AS what`.catch(() => [{ what: null }]),
        ]);
        const used = Number(/used_memory:(\d+)/.exec(redisInfo)?.[1]);
        samples.push({
          t,
          taken: points[points.length - 1]![1],
          ...(rss ? { relayRssMb: rss.rssMb } : {}),
          ...(heap ? { relayHeapMb: heap.heapUsedMb } : {}),
          ...(Number.isFinite(used) ? { redisUsedMb: round(used / 1048576, 1) } : {}),
          ...(vac[0]?.what ? { vacuum: vac[0].what } : {}),
        });
      });
    };
    sampleOnce();
    memTimer = setInterval(sampleOnce, 1000);
    let taken = 0;
    let capped = false;
    while (taken < fill.rows) {
      await sleep(100);
      taken = await progress(db, fill);
      points.push([round((wallNow() - t0) / 1000, 3), taken]);
      if (wallNow() - t0 > profile.backlogCapMs) {
        capped = true;
        break;
      }
    }
    const seconds = (wallNow() - t0) / 1000;
    clearInterval(memTimer);
    memTimer = undefined;
    sampleOnce();
    await sampling;
    const drainSent = await load.stop();
    const cpuUse = await cpu.stop();
    const pgUse = await pg.stop();
    const peakRss = relay ? readRss(relay.pid)?.peakMb : undefined;

    // The API's orders placed during the drain: how long they waited to be claimed (one relay loop
    // claims newest first, so not behind the backlog).
    await waitUntil('the relay to publish the orders placed during the drain', async () => !(await anyLeft(db)), profile.settleMs, 100).catch(() => {});
    const drainClaimLag = await claimLag(db, 'created_at > $1::timestamptz', [lastRow!.last]);
    await sleep(500);
    const relayAfter = await memoryAfterGc(relay);
    const planAfter = await claimPlan(db, config.RELAY_BATCH_SIZE).catch(() => undefined);
    const firstVacuumLog = vacuumLogTime(relay.output());

    // Rate by tenth of the drain, with the API's latency and the relay's memory over the same tenth.
    const tenths = Array.from({ length: 10 }, (_, k) => {
      const [a, b] = [(k * seconds) / 10, ((k + 1) * seconds) / 10];
      const inWindow = drainSent.filter((s) => s.at - t0 >= a * 1000 && s.at - t0 < b * 1000);
      const mem = samples.filter((s) => s.t >= a && s.t < b);
      const rss = mem.map((s) => s.relayRssMb).filter((v): v is number => v !== undefined);
      return {
        fromS: round(a, 2),
        toS: round(b, 2),
        rowsPerS: round((takenAt(points, b) - takenAt(points, a)) / (b - a), 0),
        apiP99Ms: latencyOf(inWindow)?.p99 ?? null,
        relayRssMaxMb: rss.length ? Math.max(...rss) : null,
        vacuum: mem.some((s) => s.vacuum) ? [...new Set(mem.flatMap((s) => (s.vacuum ? [s.vacuum] : [])))].join('+') : null,
      };
    });
    const perSecond = samples.map((s, i) => {
      const prevT = i === 0 ? 0 : samples[i - 1]!.t;
      return { ...s, taken: Math.round(takenAt(points, s.t)), rowsPerS: round((takenAt(points, s.t) - takenAt(points, prevT)) / (s.t - prevT || 1), 0) };
    });
    const series = (pick: (s: Sample) => number | undefined) => {
      const v = samples.map(pick).filter((x): x is number => x !== undefined);
      return v.length ? { min: Math.min(...v), max: Math.max(...v), last: v[v.length - 1]!, n: v.length } : null;
    };
    const tenthRates = tenths.map((t) => t.rowsPerS).sort((a, b) => a - b);
    const baseline = latencyOf(baselineSent);
    const during = latencyOf(drainSent);
    return {
      rows: fill.rows,
      apiRate: rate,
      fillSeconds: fill.seconds,
      drain: {
        published: takenAt(points, seconds),
        seconds: round(seconds, 2),
        rowsPerS: round(takenAt(points, seconds) / seconds, 1),
        capped,
        // Steadiness: the slowest and fastest tenth, and the middle tenths' spread.
        tenthRowsPerS: { min: tenthRates[0]!, median: round(quantile(tenthRates, 0.5), 0), max: tenthRates[tenthRates.length - 1]! },
        relayStartedBeforeDrainS: round((t0 - relayStartedAt) / 1000, 1),
        // The relay's first retention pass (RETENTION_INTERVAL_MS after it started) announces its
        // VACUUM (ANALYZE) of the outbox (autovacuum off here); seconds from the drain's start.
        firstRelayVacuumAtS: firstVacuumLog === undefined ? null : round((firstVacuumLog - t0) / 1000, 1),
        vacuumSeconds: samples.filter((s) => s.vacuum).length,
        claimPlanBefore: planBefore,
        claimPlanAfter: planAfter,
        cpu: cpuUse as CpuUse,
        postgres: pgUse,
      },
      api: {
        baseline: {
          ...baseline,
          sent: baselineSent.length,
          errors: baselineSent.filter((s) => !s.ok).length,
          seconds: profile.backlogBaselineMs / 1000,
          cpu: baselineCpuUse,
          postgres: baselinePgUse,
        },
        duringDrain: { ...during, sent: drainSent.length, errors: drainSent.filter((s) => !s.ok).length },
        p99DuringOverBaseline: baseline && during ? round(during.p99 / baseline.p99, 2) : null,
      },
      claimLag: { baseline: baselineClaimLag, duringDrain: drainClaimLag },
      memory: {
        relayBefore,
        relayAfter,
        // The memory target: RSS after a forced GC, after the large backlog less before it.
        growthMb: relayBefore && relayAfter ? round(relayAfter.rssMb - relayBefore.rssMb, 1) : null,
        relayPeakRssMb: peakRss,
        rss: series((s) => s.relayRssMb),
        heap: series((s) => s.relayHeapMb),
        redisUsed: series((s) => s.redisUsedMb),
        jobsTrimmed: trimmer.trimmed(),
      },
      tenths,
      perSecond,
    };
  } finally {
    clearInterval(memTimer);
    http.close();
    await Promise.all([api?.stop(), relay?.stop()]);
    await trimmer.stop();
    redis.disconnect();
    await infra.deletePrefix(label);
    await infra.truncate(db);
  }
}

async function startFor(place: Place, rate: number, ms: number) {
  const load = steadyLoad(place, rate);
  await sleep(ms);
  return load;
}

async function anyLeft(db: BenchDb): Promise<boolean> {
  const [row] = await db.sql<{ left: boolean }[]>`SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND dead_at IS NULL) AS left`;
  return row!.left;
}

// created_at → published_at of the API's own rows (published_at is the relay's claim transaction's
// now(): the moment the relay took the row), ms.
async function claimLag(db: BenchDb, where: string, params: string[] = []): Promise<Summary | null> {
  const rows = await db.sql.unsafe<Array<{ ms: number }>>(
    `SELECT (extract(epoch FROM published_at - created_at) * 1000)::float8 AS ms FROM outbox
     WHERE published_at IS NOT NULL AND ${where} AND EXISTS (SELECT 1 FROM orders WHERE orders.id = outbox.aggregate_id)`,
    params,
  );
  return summarize(rows.map((r) => r.ms));
}

function vacuumLogTime(output: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('autovacuum is off')) continue;
    try {
      return (JSON.parse(line) as { time?: number }).time;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
