// B_lat: bare BullMQ add → processing start, at the target rate (open loop). The harness adds one
// job at a time with the relay's job data, job id and options, and the send time in the payload
// (sentAt); a worker in another process stamps the moment the job becomes active. Both stamps use
// lib/clock.ts (performance.timeOrigin + performance.now()), not job.timestamp (whole ms).
import { createLogger } from '../../src/logger.ts';
import { createFailFastRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { closeQueues } from '../../src/redis/queues.ts';
import { createOrderQueues } from '../../src/orders/queues.ts';
import { jobFor } from '../../src/relay/publish.ts';
import { wallNow } from '../lib/clock.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { openLoop } from '../lib/load.ts';
import { BENCH_SIGNER, orderCreatedRow } from '../lib/payload.ts';
import { clockOffsetMs, startHelper } from '../lib/procs.ts';
import type { Profile } from '../lib/profile.ts';
import { feedMarks, OrderTracker } from '../lib/tracker.ts';

export async function benchLat(infra: Infra, db: BenchDb, profile: Profile, rate: number) {
  const config = infra.config(db, 'lat');
  const worker = await startHelper('lat-worker', 'bench/baselines/lat-worker.ts', infra.roleEnv(db, 'lat'), 30_000);
  const redis = createFailFastRedis(infra.redisUrl, createLogger('silent', 'bench'), 'bench-lat');
  const queues = createOrderQueues(redis, config);
  try {
    await waitUntilReady(redis, 5000);
    const clockOffset = await clockOffsetMs(worker);
    const tracker = new OrderTracker(['pay']);
    feedMarks(worker, () => tracker);
    const place = async () => {
      const job = jobFor(orderCreatedRow(), BENCH_SIGNER);
      const sentAt = wallNow();
      await queues.payments.add(job.name, { ...job.data, sentAt } as typeof job.data, job.opts);
      return { id: job.opts.jobId!, t: sentAt };
    };
    const result = await openLoop({
      tracker,
      place,
      rate,
      durationMs: profile.latMs,
      warmupMs: profile.warmMs,
      settleMs: profile.settleMs,
      kinds: ['pay'],
      cpu: infra.cpuProbe(() => ({ 'lat-worker': [worker.pid] })),
    });
    return { ...result, clockOffsetMs: clockOffset, concurrency: config.WORKER_CONCURRENCY };
  } finally {
    await worker.stop();
    await closeQueues(queues);
    redis.disconnect();
    await infra.deletePrefix('lat');
  }
}
