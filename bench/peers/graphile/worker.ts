// The peer's worker process: a graphile-worker runner (it installs and migrates its own schema)
// with the two tasks, as many jobs at once as the project's WORKER_CONCURRENCY, and a pool of
// concurrency + 2 connections as graphile-worker recommends.
import { Logger, run } from 'graphile-worker';
import { createMarkSender, helperLifecycle } from '../../lib/child.ts';
import { createTasks } from './tasks.ts';

const concurrency = Number(process.env.WORKER_CONCURRENCY ?? '16');
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
  taskList: createTasks((kind, id) => marks.mark(kind, id)),
});
helperLifecycle(() => runner.stop()).ready();
