// B_lat's consumer, in its own process as the project's workers are: a BullMQ Worker with a no-op
// processor that reports when each job becomes active (the moment its processor is called).
import { Worker } from 'bullmq';
import { loadConfig } from '../../src/config.ts';
import { workerRedisOptions } from '../../src/redis/connection.ts';
import { createMarkSender, helperLifecycle } from '../lib/child.ts';

const config = loadConfig(process.env);
const marks = createMarkSender();
const worker = new Worker('payments', async () => {}, {
  connection: workerRedisOptions(config.REDIS_URL),
  prefix: config.QUEUE_PREFIX,
  concurrency: config.WORKER_CONCURRENCY,
  lockDuration: config.WORKER_LOCK_DURATION_MS,
  autorun: false,
});
// The send time travels in the payload (job.data.sentAt); the harness holds the same number.
worker.on('active', (job) => marks.mark('pay', job.id!));
void worker.run();
await worker.waitUntilReady();
helperLifecycle(() => worker.close()).ready();
