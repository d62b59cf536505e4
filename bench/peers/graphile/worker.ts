// The peer's worker process: a graphile-worker runner (it installs and migrates its own schema)
// with the two tasks, tuned as graphile-worker's performance docs and its own perfTest recommend:
// a local queue (jobs fetched and locked in batches, `concurrency + 1` by default), and completions
// and failures batched with a delay of 0 (flushed on the next tick). The pool has concurrency + 2
// connections, as its docs recommend. The harness sweeps the concurrency and keeps the best.
import { Logger, run } from 'graphile-worker';
import { createMarkSender, helperLifecycle } from '../../lib/child.ts';
import { createTasks } from './tasks.ts';

const concurrency = Number(process.env.WORKER_CONCURRENCY ?? '16');
const localQueueSize = Number(process.env.GRAPHILE_LOCAL_QUEUE_SIZE ?? String(concurrency + 1));
const batchDelayMs = Number(process.env.GRAPHILE_BATCH_DELAY_MS ?? '0');
const marks = createMarkSender();
const quiet = new Logger(() => (level, message) => {
  if (level === 'error') console.error(message);
});
const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  concurrency,
  maxPoolSize: concurrency + 2,
  noHandleSignals: true,
  logger: quiet,
  preset: { worker: { localQueue: { size: localQueueSize }, completeJobBatchDelay: batchDelayMs, failJobBatchDelay: batchDelayMs } },
  taskList: createTasks((kind, id) => marks.mark(kind, id)),
});
helperLifecycle(() => runner.stop()).ready();
