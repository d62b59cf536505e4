// B_add: bare BullMQ addBulk at the relay's batch size (RELAY_BATCH_SIZE), with RELAY_CONCURRENCY
// batches in flight as the relay's loops have, string job ids (the outbox ids), the queues' own
// job options and the relay's job data (jobFor of an order.created row, signed as the relay signs
// it), on the same fail-fast connection the relay uses. No Postgres.
import { createLogger } from '../../src/logger.ts';
import { createFailFastRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { closeQueues } from '../../src/redis/queues.ts';
import { createOrderQueues } from '../../src/orders/queues.ts';
import { jobFor } from '../../src/relay/publish.ts';
import { wallNow } from '../lib/clock.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { BENCH_SIGNER, orderCreatedRow } from '../lib/payload.ts';
import type { Profile } from '../lib/profile.ts';
import { round, summarize } from '../lib/stats.ts';

export async function benchAdd(infra: Infra, db: BenchDb, profile: Profile) {
  const config = infra.config(db, 'add');
  const redis = createFailFastRedis(infra.redisUrl, createLogger('silent', 'bench'), 'bench-add');
  await waitUntilReady(redis, 5000);
  const queues = createOrderQueues(redis, config);
  const batchSize = config.RELAY_BATCH_SIZE;
  const loops = config.RELAY_CONCURRENCY;
  const addAll = async (n: number, batchMs?: number[]) => {
    const rows = Array.from({ length: n }, orderCreatedRow);
    let next = 0;
    await Promise.all(
      Array.from({ length: loops }, async () => {
        while (next < rows.length) {
          const batch = rows.slice(next, next + batchSize);
          next += batchSize;
          const t = wallNow();
          await queues.payments.addBulk(batch.map((row) => jobFor(row, BENCH_SIGNER)));
          batchMs?.push(wallNow() - t);
        }
      }),
    );
  };
  try {
    await addAll(Math.max(batchSize * loops, Math.round(profile.addJobs / 10)));
    const batchMs: number[] = [];
    const cpu = infra.cpuProbe(() => ({}))();
    const t0 = wallNow();
    await addAll(profile.addJobs, batchMs);
    const seconds = (wallNow() - t0) / 1000;
    return {
      cpu: await cpu.stop(),
      jobsPerS: round(profile.addJobs / seconds, 1),
      jobs: profile.addJobs,
      seconds: round(seconds, 2),
      batchSize,
      concurrency: loops,
      batchLatencyMs: summarize(batchMs),
    };
  } finally {
    await closeQueues(queues);
    redis.disconnect();
    await infra.deletePrefix('add');
  }
}
