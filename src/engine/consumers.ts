// The consumers of a service, run by the engine: one BullMQ Worker per queue, each calling its
// handler through the same path. The engine loads and checks the event, absorbs duplicates through
// the inbox, wakes the relay after a step wrote routed events, retries with backoff, runs the
// handler's give-up hook on the last attempt, and never spends an attempt while Postgres is away.
import { DelayedError, UnrecoverableError, Worker, type Job, type Processor } from 'bullmq';
import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import { isConnectionError, type Db, type Fragment, type Sql } from '../db/client.ts';
import type { ConsumerMetrics } from '../metrics/metrics.ts';
import { createWorkerConnection, type RedisTarget } from '../redis/connection.ts';
import { consumerSpanAttributes, inSpan, traceIdOf } from '../tracing.ts';
import type { OutboxJobData } from './events.ts';
import type { Signer } from './signing.ts';
import { createEventLoader } from './load.ts';
import { createGroupCommit } from './group-commit.ts';
import { createStep, type RunRecorded, type Step, type StepResult, type Trust } from './step.ts';
import type { Topology } from './topology.ts';

export interface ConsumerSpec<E extends string = string, Q extends string = string, C = unknown> {
  queue: Q;
  // The inbox name; defaults to the topology's consumer of `queue`.
  name?: string;
  // Event types it takes (another service's, for a consumer of that service's events).
  accepts: readonly string[];
  // 'outbox': the event is re-read from this database's outbox (the job only names it).
  // 'signature': the consumer cannot read the producer's outbox; the job's HMAC must hold.
  trust: Trust;
  // Domain state for the handler, read in the same statement as the event: a SELECT returning at
  // most one row, which may use e.id and e.aggregate_id. Null when it finds nothing.
  context?: (db: Db) => Fragment;
  handle(step: Step<E, C>): Promise<StepResult>;
  // Runs once, when the last attempt failed (an operator can still retry the job from the board).
  onGiveUp?(step: Step<E, C>, err: unknown): Promise<void>;
}

export interface ConsumerSettings extends RedisTarget {
  QUEUE_PREFIX: string;
  WORKER_CONCURRENCY: number;
  WORKER_LOCK_DURATION_MS: number;
  WORKER_STALLED_INTERVAL_MS: number;
  WORKER_MAX_STALLED_COUNT: number;
  JOB_BACKOFF_MS: number;
}

export interface ConsumerDeps {
  sql: Sql;
  topology: Topology;
  settings: ConsumerSettings;
  log: Logger;
  metrics: ConsumerMetrics;
  signer?: Signer | undefined;
  // Called after a step committed events some queue consumes (in-process hand-off or NOTIFY).
  wakeRelay: () => void;
  // Whether Redis answers now (the engine's command connection): decides how the workers close.
  redisReady?: () => boolean;
}

export interface Consumers {
  start(): Promise<void>;
  stop(): Promise<void>;
  workers: Worker[];
}

export function isFinalAttempt(job: Pick<Job, 'attemptsMade' | 'opts'>, err: unknown): boolean {
  // Postgres unreachable is never the last word: the job is put back without spending an attempt.
  if (isConnectionError(err)) return false;
  // attemptsMade counts the attempts that already failed, not the one running now.
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

// One job through one consumer: load, dedupe, handle, give up on the last failed attempt. The
// loads of this consumer's jobs, and the recorded steps of every consumer sharing `runRecorded`,
// are batched with those of the jobs running at the same moment.
export function createProcessor(spec: ConsumerSpec, deps: ConsumerDeps, runRecorded: RunRecorded = recorderFor(deps)) {
  const consumer = consumerName(spec, deps.topology);
  const load = createEventLoader(deps.sql, { consumer, trust: spec.trust, accepts: spec.accepts, context: spec.context }, deps.signer, (n) =>
    deps.metrics.batchSize.observe({ statement: 'load' }, n),
  );
  const onEmitted = (types: readonly string[]) => {
    if (types.some((t) => deps.topology.isRouted(t))) deps.wakeRelay();
  };
  // The step for a job, or undefined when the inbox already has its event.
  const prepare = async (job: Job<OutboxJobData>) => {
    const loaded = await load(job.id, job.data);
    return loaded.processed ? undefined : createStep(deps.sql, consumer, loaded, job.attemptsMade, { runRecorded, onEmitted });
  };
  const giveUp = async (prepared: NonNullable<Awaited<ReturnType<typeof prepare>>>, err: unknown) => {
    await spec.onGiveUp!(prepared.step, err);
    prepared.wakeForInserted(); // the hook's transaction has committed by now
  };
  const process = async (job: Job<OutboxJobData>): Promise<StepResult> => {
    const prepared = await prepare(job);
    if (!prepared) return { outcome: 'duplicate' };
    try {
      return await spec.handle(prepared.step);
    } catch (err) {
      if (spec.onGiveUp && isFinalAttempt(job, err)) await giveUp(prepared, err);
      throw err;
    }
  };
  // BullMQ fails a job that stalled more than WORKER_MAX_STALLED_COUNT times without running it
  // (a worker froze or died with it, again and again). Its give-up hook still runs, so the job ends
  // in a recorded state, unless its step had committed before the stall.
  const afterStalledOut = async (job: Job<OutboxJobData>, err: Error) => {
    const prepared = spec.onGiveUp ? await prepare(job) : undefined;
    if (prepared) await giveUp(prepared, err);
  };
  return Object.assign(process, { afterStalledOut });
}

type Processing = ReturnType<typeof createProcessor>;

// BullMQ's reason for a job failed by its stall count (moveStalledJobsToWait sets it as the job's
// deferred failure; the next worker to take the job fails it with it).
export const isStalledOut = (job: Pick<Job, 'deferredFailure'>, err: Error) => Boolean(job.deferredFailure) || /stalled more than allowable limit/.test(err.message);

const recorderFor = (deps: ConsumerDeps): RunRecorded => {
  const commit = createGroupCommit(deps.sql, (n) => deps.metrics.batchSize.observe({ statement: 'record' }, n));
  return async (statement) => (await commit(statement))[0]!;
};

export const consumerName = (spec: ConsumerSpec, topology: Topology) => spec.name ?? topology.consumerOf(spec.queue);

export function createConsumers(specs: readonly ConsumerSpec[], deps: ConsumerDeps): Consumers {
  const { settings, log } = deps;
  const clusters: Cluster[] = []; // a Cluster handed to a Worker is shared, not owned: we close it
  const outage = throttledWarning(log, 30_000);
  const runRecorded = recorderFor(deps); // one per pool: every queue's steps commit together
  const handlers = handlerCount();
  const workers = specs.map((spec) => {
    const connection = createWorkerConnection(settings);
    if (connection instanceof Cluster) clusters.push(connection);
    const run = createProcessor(spec, deps, runRecorded);
    const worker = new Worker<OutboxJobData, StepResult>(spec.queue, jobProcessor(spec, deps, outage, run, handlers), {
      connection,
      prefix: settings.QUEUE_PREFIX,
      concurrency: settings.WORKER_CONCURRENCY,
      lockDuration: settings.WORKER_LOCK_DURATION_MS,
      stalledInterval: settings.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: settings.WORKER_MAX_STALLED_COUNT,
      autorun: false,
    });
    watchWorker(worker, spec.queue, log, deps.metrics, run);
    return worker;
  });

  let started = false;
  return {
    workers,
    async start() {
      if (started) return;
      started = true;
      // Not awaiting readiness: with Redis away the workers keep reconnecting on their own, and the
      // rest of the process (the API above all) must still start.
      for (const worker of workers) worker.run().catch((err: unknown) => log.error({ err }, 'worker stopped unexpectedly'));
    },
    async stop() {
      if (!started) return;
      started = false;
      if (deps.redisReady?.() === false) {
        // BullMQ's graceful close waits for its fetch loop, which waits for Redis: with Redis away
        // a stop used to wait out the whole grace period with nothing to finish. Our handlers
        // finish (their jobs could not be completed in Redis anyway), then the workers close by force.
        log.info({ handlers_running: handlers.running }, 'Redis is away: closing the workers once the running handlers have returned');
        await handlers.idle();
        await Promise.all(workers.map((w) => w.close(true)));
      } else {
        await Promise.all(workers.map((w) => w.close())); // stops taking jobs, waits for the active ones
      }
      for (const cluster of clusters) cluster.disconnect();
    },
  };
}

// One line per `everyMs` at most, for a condition that every job would otherwise report.
function throttledWarning(log: Logger, everyMs: number) {
  let lastAt = 0;
  return (fields: object, message: string) => {
    if (Date.now() - lastAt < everyMs) return;
    lastAt = Date.now();
    log.warn(fields, message);
  };
}

// The BullMQ processor of one consumer: a CONSUMER span, the metrics and the log line around the
// engine's processing, and the Postgres-outage rule.
// How many handlers are running, and a promise for the moment none is.
function handlerCount() {
  let waiting: Array<() => void> = [];
  const count = {
    running: 0,
    enter: () => void count.running++,
    leave: () => {
      if (--count.running > 0) return;
      for (const resolve of waiting) resolve();
      waiting = [];
    },
    idle: () => (count.running === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
  };
  return count;
}

function jobProcessor(
  spec: ConsumerSpec,
  deps: ConsumerDeps,
  outage: ReturnType<typeof throttledWarning>,
  run: Processing,
  handlers: ReturnType<typeof handlerCount>,
): Processor<OutboxJobData, StepResult> {
  const { queue } = spec;
  const { log, metrics, settings } = deps;
  const done = `${consumerName(spec, deps.topology)} `;
  return (job, token) =>
    inSpan(
      `process ${queue}`,
      'consumer',
      job.data?.headers ?? {},
      async () => {
        const stopTimer = metrics.jobDuration.startTimer({ queue });
        handlers.enter();
        try {
          const result = await run(job);
          metrics.jobsCompleted.inc({ queue, outcome: result.outcome });
          const fields = {
            queue,
            job_id: job.id,
            outbox_id: job.data?.outboxId,
            ...aggregateField(job.data),
            trace_id: traceIdOf(job.data?.headers?.traceparent),
            detail: result.detail,
          };
          log.info(fields, result.outcome === 'duplicate' ? 'duplicate message absorbed by the inbox' : done + result.outcome);
          return result;
        } catch (err) {
          // Postgres unreachable: the job waits for it without spending an attempt, as the relay
          // never counts a Redis outage against a row. Counted as attempts, a restart of a few
          // seconds used up JOB_ATTEMPTS and left jobs failed for an outage.
          if (!isConnectionError(err) || !token) throw err;
          try {
            await job.moveToDelayed(Date.now() + settings.JOB_BACKOFF_MS * (0.5 + Math.random()), token);
          } catch {
            throw err; // Redis is away too: an ordinary failed attempt
          }
          outage({ queue, err: (err as Error).message }, 'postgres unavailable; jobs wait for it without spending their attempts');
          throw new DelayedError();
        } finally {
          handlers.leave();
          stopTimer();
        }
      },
      consumerSpanAttributes(queue, job.id),
    );
}

function watchWorker(worker: Worker<OutboxJobData>, queue: string, log: Logger, metrics: ConsumerMetrics, run: Processing): void {
  worker.on('failed', (job: Job<OutboxJobData> | undefined, err: Error) => {
    if (job && isStalledOut(job, err)) {
      run
        .afterStalledOut(job, err)
        .catch((hookErr: unknown) =>
          log.error(
            { queue, job_id: job.id, ...aggregateField(job.data), err: hookErr instanceof Error ? hookErr.message : String(hookErr) },
            'the give-up hook of a job that stalled out failed; retry the job from the dashboard at /admin/queues',
          ),
        );
    }
    const attempts = job?.opts.attempts ?? 1;
    const final = !job || job.attemptsMade >= attempts || err.name === 'UnrecoverableError';
    (final ? metrics.jobsFailed : metrics.jobsRetried).inc({ queue });
    log.warn(
      { queue, job_id: job?.id, ...aggregateField(job?.data), trace_id: traceIdOf(job?.data?.headers?.traceparent), attempt: job?.attemptsMade, attempts, err: err.message },
      final ? 'job failed for good; retry it from the dashboard at /admin/queues' : 'job failed; will retry with backoff',
    );
  });
  // While Redis is away every reconnect attempt fails: say so once every half minute, not each
  // time, for each kind of trouble on its own.
  const warnings = new Map<string, ReturnType<typeof throttledWarning>>();
  worker.on('error', (err: Error) => {
    const what = workerTrouble(err.message);
    if (!warnings.has(what)) warnings.set(what, throttledWarning(log, 30_000));
    warnings.get(what)!({ queue, err: err.message }, what);
  });
}

// What a worker's 'error' event means, for its log line: Redis away (the usual case), Redis full,
// or a job whose lock this worker lost (it froze or stalled; another worker has taken the job
// over, and the inbox absorbs whatever this one still writes).
export function workerTrouble(message: string): string {
  if (/\bOOM command not allowed\b/.test(message)) return 'Redis is out of memory (maxmemory reached): jobs wait until memory is freed; raise maxmemory or free memory';
  if (/could not renew lock for job|Missing lock for job/.test(message)) {
    return "a job's lock was lost (this worker was frozen or too slow): another worker has taken it over, and the inbox absorbs what this one still records";
  }
  return 'worker cannot reach Redis; retrying';
}

// Log lines name the aggregate by its type (`order_id` for an order), as the service's own lines do.
export function aggregateField(data: Partial<OutboxJobData> | undefined): Record<string, string | undefined> {
  const type = typeof data?.aggregateType === 'string' && /^\w{1,40}$/.test(data.aggregateType) ? data.aggregateType : 'aggregate';
  return { [`${type}_id`]: data?.aggregateId };
}
