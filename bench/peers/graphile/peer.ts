// A peer built on graphile-worker, measured in the same run: the same order body, the order
// transaction (one statement: insert the order, add_job('pay')) placed straight from postgres.js
// at the API's pool size, the two chained tasks in a worker process of its own (tuned as its
// authors recommend, see worker.ts), on a database of its own. Sustained: the same closed loop as
// ours (window, concurrency, window length) at each of PEER_CONCURRENCIES, the best kept. End to
// end: open loop at the common rate P with that concurrency, from the order's commit to the pay
// task's start and to delivered.
import { randomUUID } from 'node:crypto';
import { createSql } from '../../../src/db/client.ts';
import { wallNow } from '../../lib/clock.ts';
import type { Infra } from '../../lib/infra.ts';
import { closedLoop, openLoop } from '../../lib/load.ts';
import { ORDER_BODY, ORDER_TOTAL } from '../../lib/payload.ts';
import { clockOffsetMs, startHelper } from '../../lib/procs.ts';
import { CLIENTS, type Profile } from '../../lib/profile.ts';
import { feedMarks, OrderTracker } from '../../lib/tracker.ts';
import { PLACE_ORDER_SQL } from './tasks.ts';

// The peer's worker concurrencies tried for its sustained figure; the best one is kept (and used at P).
export const PEER_CONCURRENCIES = [8, 16, 32];

export async function benchGraphile(infra: Infra, profile: Profile, commonRate: (sustained: number) => number) {
  const db = await infra.database('graphile');
  const config = infra.config(db, 'graphile');
  const sql = createSql({ url: db.url, max: config.PG_POOL_MAX, connectTimeoutS: 10 });
  const endMaintenance = infra.maintain(db);
  const place = async () => {
    const id = randomUUID();
    await sql.unsafe(PLACE_ORDER_SQL, [id, ORDER_BODY.customer_name, ORDER_BODY.address, JSON.stringify(ORDER_BODY.items), ORDER_TOTAL], { prepare: true });
    return { id, t: wallNow() };
  };
  let tracker: OrderTracker | undefined;
  const startWorker = async (concurrency: number) => {
    const worker = await startHelper('graphile-worker', 'bench/peers/graphile/worker.ts', { DATABASE_URL: db.url, WORKER_CONCURRENCY: String(concurrency) });
    feedMarks(worker, () => tracker);
    return { worker, clockOffset: await clockOffsetMs(worker), cpu: infra.cpuProbe(() => ({ 'graphile-worker': [worker.pid] })) };
  };
  try {
    const sweep: Array<{ concurrency: number; ordersPerS: number; sustained: Awaited<ReturnType<typeof closedLoop>> }> = [];
    for (const concurrency of PEER_CONCURRENCIES) {
      const { worker, cpu } = await startWorker(concurrency);
      try {
        tracker = new OrderTracker(['delivered']);
        const sustained = await closedLoop({
          tracker,
          place,
          window: profile.sustainedWindow,
          concurrency: CLIENTS,
          warmupMs: Math.max(profile.warmMs, 2000),
          durationMs: profile.sustainedMs,
          settleMs: profile.settleMs,
          backlog: async () => {
            const [row] = await db.sql<{ jobs: number }[]>`SELECT count(*)::int AS jobs FROM graphile_worker.jobs`;
            return row!;
          },
          cpu,
        });
        sweep.push({ concurrency, ordersPerS: sustained.ordersPerS, sustained });
      } finally {
        tracker = undefined;
        await worker.stop();
        await infra.truncate(db); // each concurrency starts on the same empty tables
      }
    }
    const best = sweep.reduce((a, b) => (b.ordersPerS > a.ordersPerS ? b : a));
    const rate = commonRate(best.ordersPerS);
    const { worker, clockOffset, cpu } = await startWorker(best.concurrency);
    try {
      tracker = new OrderTracker(['delivered']);
      const e2e = await openLoop({
        tracker,
        place,
        rate,
        durationMs: profile.e2eCommonMs,
        warmupMs: profile.warmMs,
        settleMs: profile.settleMs,
        kinds: ['pay', 'delivered'],
        cpu,
        maxInFlight: Math.max(500, rate * 2),
      });
      tracker = undefined;
      const rss = await worker.stop();
      return {
        concurrency: best.concurrency,
        sweep: sweep.map((s) => ({ concurrency: s.concurrency, ordersPerS: s.ordersPerS })),
        tuning: { localQueueSize: 'concurrency + 1', completeJobBatchDelay: 0, failJobBatchDelay: 0 },
        clockOffsetMs: clockOffset,
        sustained: best.sustained,
        e2e,
        workerRss: rss,
      };
    } finally {
      await worker.stop();
    }
  } finally {
    await endMaintenance();
    await sql.end({ timeout: 5 });
  }
}
