// The whole pipeline, each role in its own process: the api (src/api/main.ts), a relay (ours,
// src/relay/main.ts, or the seeds' stand-in) and the workers (createSystem(['workers']) with timing
// listeners, bench/project/probe-workers.ts). Orders go in over HTTP from this process.
//  - sustained (first, so it also warms every process up): closed loop with at most
//    `sustainedWindow` orders placed and not yet both delivered and invoiced, over `sustainedMs`
//    after a warm-up; the backlog is sampled at both ends;
//  - end to end: open-loop rates; latency from the 201 to the payment job's start and to the
//    delivery job's completion. Without a sustained run, a discarded open loop warms up first.
import { Queue } from 'bullmq';
import { createLogger } from '../../src/logger.ts';
import { QUEUE_NAMES } from '../../src/orders/topology.ts';
import { createFailFastRedis } from '../../src/redis/connection.ts';
import { httpPlacer } from '../lib/http-orders.ts';
import { claimPlan } from './claim-plan.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { closedLoop, openLoop, type ClosedLoopResult, type OpenLoopResult } from '../lib/load.ts';
import { clockOffsetMs, freePort, startHelper, startRole, type Child } from '../lib/procs.ts';
import { CLIENTS, type Profile } from '../lib/profile.ts';
import { feedMarks, OrderTracker } from '../lib/tracker.ts';
import { workWindow, type WorkPerOrder } from '../lib/work.ts';

export interface PipelineResult {
  relay: 'ours' | 'seeds';
  clockOffsetMs: number;
  e2e: Record<string, OpenLoopResult>;
  // Per order of each open-loop window (its warm-up and settle included): commits, row writes,
  // statements and Redis commands, which do not drift with the host's load.
  work: Record<string, WorkPerOrder>;
  sustained?: ClosedLoopResult;
  rssMb: Record<string, { rssMb: number; peakMb: number } | undefined>;
  claimPlanAtEnd?: Awaited<ReturnType<typeof claimPlan>>;
}

export async function runPipeline(
  infra: Infra,
  db: BenchDb,
  profile: Profile,
  o: { relay: 'ours' | 'seeds'; rates: Array<{ name: string; rate: number; ms: number }>; sustained: boolean },
): Promise<PipelineResult> {
  const label = o.relay === 'ours' ? 'pipe' : 'seeds';
  const config = infra.config(db, label);
  await infra.truncate(db);
  const port = await freePort();
  const env = infra.roleEnv(db, label, { PORT: String(port) });
  const children: Child[] = [];
  const redis = createFailFastRedis(infra.redisUrl, createLogger('silent', 'bench'), 'bench-backlog');
  const queues = QUEUE_NAMES.map((name) => new Queue(name, { connection: redis, prefix: config.QUEUE_PREFIX }));
  const http = httpPlacer(`http://127.0.0.1:${port}`);
  const endMaintenance = infra.maintain(db);
  try {
    const [api, relay, workers] = await Promise.all([
      startRole('api', 'src/api/main.ts', env),
      o.relay === 'ours' ? startRole('relay', 'src/relay/main.ts', env) : startHelper('relay-seeds', 'bench/project/seed-relay.ts', env),
      startHelper('workers', 'bench/project/probe-workers.ts', env),
    ]);
    children.push(api, relay, workers);
    let tracker: OrderTracker | undefined;
    feedMarks(workers, () => tracker);
    const cpu = infra.cpuProbe(() => ({ api: [api.pid], relay: [relay.pid], workers: [workers.pid] }));
    const result: PipelineResult = { relay: o.relay, clockOffsetMs: await clockOffsetMs(workers), e2e: {}, work: {}, rssMb: {} };

    // Sustained first: its closed loop also warms every process up before the latency runs.
    if (o.sustained) {
      tracker = new OrderTracker(['delivered', 'invoiced']);
      // `unpublished` counts every event the relay has yet to take, now including those routed to
      // no queue (order.delivered, order.payment_failed, order.delivery_failed): they used to be
      // written already published and were not counted; the relay now publishes them to nothing.
      const backlog = async () => {
        const [row] = await db.sql<{ unpublished: number; undelivered: number }[]>`
          SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL AND dead_at IS NULL)::int AS unpublished,
                 (SELECT count(*) FROM orders WHERE status = 'pending_payment' OR status = 'paid')::int AS undelivered`;
        const waiting = await Promise.all(queues.map(async (q) => [q.name, await q.getJobCountByTypes('wait', 'active', 'prioritized')] as const));
        return { ...row!, ...Object.fromEntries(waiting.map(([n, c]) => [`${n}Waiting`, c])) };
      };
      result.sustained = await closedLoop({
        tracker,
        place: http.place,
        window: profile.sustainedWindow,
        concurrency: CLIENTS,
        warmupMs: Math.max(profile.warmMs, 2000),
        durationMs: profile.sustainedMs,
        settleMs: profile.settleMs,
        backlog,
        cpu,
      });
    }
    if (!o.sustained && o.rates[0]) {
      tracker = new OrderTracker(['delivered', 'invoiced']);
      await openLoop({ tracker, place: http.place, rate: o.rates[0].rate, durationMs: Math.max(profile.warmMs, 3000), warmupMs: 0, settleMs: profile.settleMs, kinds: [] });
    }
    for (const { name, rate, ms } of o.rates) {
      tracker = new OrderTracker(['delivered', 'invoiced']);
      if (infra.redis.status === 'wait') await infra.redis.connect();
      const work = await workWindow(db.sql, db.name, infra.redis);
      result.e2e[name] = await openLoop({
        tracker,
        place: http.place,
        rate,
        durationMs: ms,
        warmupMs: profile.warmMs,
        settleMs: profile.settleMs,
        kinds: ['pay', 'delivered'],
        cpu,
        maxInFlight: Math.max(500, rate * 2),
      });
      result.work[name] = await work.stop(result.e2e[name]!.sent);
    }
    tracker = undefined;
    result.claimPlanAtEnd = await claimPlan(db, config.RELAY_BATCH_SIZE).catch(() => undefined);
    for (const child of children) result.rssMb[child.name] = await child.stop();
    return result;
  } finally {
    await endMaintenance();
    http.close();
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(queues.map((q) => q.close()));
    redis.disconnect();
    await infra.deletePrefix(label);
  }
}
