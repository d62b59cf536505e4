// The BullMQ queues, one per consumer, with the job options every job gets.
import { Queue, type JobsOptions } from 'bullmq';
import type { OutboxJobData } from '../engine/events.ts';
import type { RedisConnection } from './connection.ts';

export type Queues<Q extends string = string> = Record<Q, Queue<OutboxJobData>>;

export interface JobSettings {
  QUEUE_PREFIX: string;
  JOB_ATTEMPTS: number;
  JOB_BACKOFF_MS: number;
  JOB_KEEP_COMPLETED_S: number;
  JOB_KEEP_FAILED_S: number;
}

export function defaultJobOptions(config: JobSettings): JobsOptions {
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
export function createQueues<Q extends string>(connection: RedisConnection, names: readonly Q[], config: JobSettings, onError: (err: Error) => void = () => {}): Queues<Q> {
  const make = (name: Q) => {
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
  return Object.fromEntries(names.map((name) => [name, make(name)])) as Queues<Q>;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}
