// B_work: a queue pre-filled with the relay's jobs, drained by one BullMQ Worker with a no-op
// processor at the workers' concurrency (WORKER_CONCURRENCY), the workers' connection options and
// lock duration. Completed jobs are kept as the project keeps them (removeOnComplete by age).
import { Worker } from 'bullmq';
import { createLogger } from '../../src/logger.ts';
import { createFailFastRedis, waitUntilReady, workerRedisOptions } from '../../src/redis/connection.ts';
import { closeQueues } from '../../src/redis/queues.ts';
import { createOrderQueues } from '../../src/orders/queues.ts';
import { jobFor } from '../../src/relay/publish.ts';
import { sleep, wallNow } from '../lib/clock.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { BENCH_SIGNER, orderCreatedRow } from '../lib/payload.ts';
import type { Profile } from '../lib/profile.ts';
import { round } from '../lib/stats.ts';

export async function benchWork(infra: Infra, db: BenchDb, profile: Profile) {
  const config = infra.config(db, 'work');
  const redis = createFailFastRedis(infra.redisUrl, createLogger('silent', 'bench'), 'bench-work');
  await waitUntilReady(redis, 5000);
  const queues = createOrderQueues(redis, config);
  const n = profile.workJobs;
  const worker = new Worker('payments', async () => {}, {
    connection: workerRedisOptions(infra.redisUrl),
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    autorun: false,
  });
  try {
    for (let done = 0; done < n; done += 1000) {
      await queues.payments.addBulk(Array.from({ length: Math.min(1000, n - done) }, () => jobFor(orderCreatedRow(), BENCH_SIGNER)));
    }
    let completed = 0;
    worker.on('completed', () => void completed++);
    await worker.waitUntilReady();
    const cpu = infra.cpuProbe(() => ({}))();
    const t0 = wallNow();
    void worker.run();
    while (completed < n) await sleep(5);
    const seconds = (wallNow() - t0) / 1000;
    return { cpu: await cpu.stop(), jobsPerS: round(n / seconds, 1), jobs: n, seconds: round(seconds, 2), concurrency: config.WORKER_CONCURRENCY };
  } finally {
    await worker.close();
    await closeQueues(queues);
    redis.disconnect();
    await infra.deletePrefix('work');
  }
}
