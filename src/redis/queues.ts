// The BullMQ queues, one per consumer, with the job options every job gets.
import { Queue, type JobsOptions } from 'bullmq';
import type { Config } from '../config.ts';
import { QUEUE_NAMES, type OutboxJobData, type QueueName } from '../events/routing.ts';
import type { RedisConnection } from './connection.ts';

export type Queues = Record<QueueName, Queue<OutboxJobData>>;

export function defaultJobOptions(config: Config): JobsOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS, jitter: 0.5 },
    // Completed jobs stay long enough that a re-add after a relay restart is a no-op (jobId dedupe);
    // past that window the inbox absorbs the duplicate.
    removeOnComplete: { age: config.JOB_KEEP_COMPLETED_S },
    removeOnFail: { age: config.JOB_KEEP_FAILED_S },
  };
}

// `onError` receives connection errors the queues re-emit (an 'error' event without a listener
// would crash the process while Redis is away).
export function createQueues(connection: RedisConnection, config: Config, onError: (err: Error) => void = () => {}): Queues {
  const make = (name: QueueName) => {
    const queue = new Queue<OutboxJobData>(name, {
      connection,
      prefix: config.QUEUE_PREFIX,
      defaultJobOptions: defaultJobOptions(config),
      // Without these a Queue created while Redis is down waits for it forever (and the version
      // check's failure is cached): the relay must fail fast and back off instead.
      skipWaitingForReady: true,
      skipVersionCheck: true,
    });
    queue.on('error', onError);
    return queue;
  };
  return Object.fromEntries(QUEUE_NAMES.map((name) => [name, make(name)])) as Queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}
