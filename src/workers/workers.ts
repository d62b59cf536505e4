// One BullMQ Worker per chosen queue, each with its processor.
import { DelayedError, Worker, type Job, type Processor } from 'bullmq';
import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { isConnectionError, type Sql } from '../db/client.ts';
import { CONSUMER_OF_QUEUE, type OutboxJobData, type QueueName } from '../events/routing.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { createWorkerConnection } from '../redis/connection.ts';
import { inSpan, traceIdOf } from '../tracing.ts';
import { createDeliveryProcessor } from './delivery.ts';
import { createSimulatedGateway } from './gateway.ts';
import { createInvoiceProcessor } from './invoice.ts';
import { wakesRelay, type StepResult } from './message.ts';
import { createPaymentProcessor } from './payment.ts';

export interface Workers {
  start(): Promise<void>;
  stop(): Promise<void>;
  workers: Worker[];
}

export function createProcessors(sql: Sql, config: Config, metrics?: Metrics): Record<QueueName, Processor<OutboxJobData, StepResult>> {
  const gateway = createSimulatedGateway(sql, {
    latencyMs: config.GATEWAY_LATENCY_MS,
    failureRate: config.GATEWAY_FAILURE_RATE,
    declineOverCents: config.GATEWAY_DECLINE_OVER_CENTS,
  });
  return {
    payments: createPaymentProcessor(sql, gateway),
    deliveries: createDeliveryProcessor(sql, {
      latencyMs: config.DELIVERY_LATENCY_MS,
      failureRate: config.DELIVERY_FAILURE_RATE,
      onDelivered: (createdAt) => metrics?.orderToDelivered.observe((Date.now() - createdAt.getTime()) / 1000),
    }),
    invoices: createInvoiceProcessor(sql),
  };
}

// `onEventCommitted` wakes the relay after a step committed its next event, as the API does.
export function createWorkers(sql: Sql, config: Config, log: Logger, metrics: Metrics, onEventCommitted: () => void): Workers {
  const processors = createProcessors(sql, config, metrics);
  // A Cluster handed to a Worker is shared, not owned: BullMQ does not close it, so we do.
  const clusters: Cluster[] = [];
  // Postgres away is nobody's fault in the job: say so once every half minute, not for each job.
  let lastUnavailableLogAt = 0;
  const workers = config.WORKER_QUEUES.map((queue) => {
    const connection = createWorkerConnection(config);
    if (connection instanceof Cluster) clusters.push(connection);
    const process: Processor<OutboxJobData, StepResult> = (job, token) =>
      inSpan(`${queue} process`, 'consumer', job.data?.headers ?? {}, async () => {
        const stopTimer = metrics.jobDuration.startTimer({ queue });
        try {
          const result = await processors[queue](job);
          metrics.jobsCompleted.inc({ queue, outcome: result.outcome });
          if (wakesRelay(result)) onEventCommitted();
          const fields = { queue, job_id: job.id, outbox_id: job.data?.outboxId, order_id: job.data?.aggregateId, trace_id: traceIdOf(job.data?.headers?.traceparent), detail: result.detail };
          if (result.outcome === 'duplicate') log.info(fields, 'duplicate message absorbed by the inbox');
          else log.info(fields, `${CONSUMER_OF_QUEUE[queue]} ${result.outcome}`);
          return result;
        } catch (err) {
          // Postgres unreachable: the job waits for it without spending an attempt, as the relay
          // never counts a Redis outage against a row. Counted as attempts, a restart of a few
          // seconds used up JOB_ATTEMPTS and left orders stuck in a failed job (or, had Postgres come
          // back just in time for the give-up hook, marked payment_failed for an outage).
          if (!isConnectionError(err) || !token) throw err;
          try {
            await job.moveToDelayed(Date.now() + config.JOB_BACKOFF_MS * (0.5 + Math.random()), token);
          } catch {
            throw err; // Redis is away too: an ordinary failed attempt
          }
          if (Date.now() - lastUnavailableLogAt > 30_000) {
            lastUnavailableLogAt = Date.now();
            log.warn({ queue, err: (err as Error).message }, 'postgres unavailable; jobs wait for it without spending their attempts');
          }
          throw new DelayedError();
        } finally {
          stopTimer();
        }
      });
    const worker = new Worker<OutboxJobData, StepResult>(queue, process, {
      connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_LOCK_DURATION_MS,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
      autorun: false,
    });
    worker.on('failed', (job: Job<OutboxJobData> | undefined, err: Error) => {
      const attempts = job?.opts.attempts ?? 1;
      const final = !job || job.attemptsMade >= attempts || err.name === 'UnrecoverableError';
      (final ? metrics.jobsFailed : metrics.jobsRetried).inc({ queue });
      log.warn(
        { queue, job_id: job?.id, order_id: job?.data?.aggregateId, trace_id: traceIdOf(job?.data?.headers?.traceparent), attempt: job?.attemptsMade, attempts, err: err.message },
        final ? 'job failed for good; retry it from the dashboard at /admin/queues' : 'job failed; will retry with backoff',
      );
    });
    // While Redis is away every reconnect attempt fails: say so once every half minute, not each time.
    let lastErrorLogAt = 0;
    worker.on('error', (err: Error) => {
      if (Date.now() - lastErrorLogAt < 30_000) return;
      lastErrorLogAt = Date.now();
      log.warn({ queue, err: err.message }, 'worker cannot reach Redis; retrying');
    });
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
      for (const worker of workers) {
        worker.run().catch((err: unknown) => log.error({ err }, 'worker stopped unexpectedly'));
      }
    },
    async stop() {
      if (!started) return;
      started = false;
      // close() stops taking jobs and waits for the active ones to finish.
      await Promise.all(workers.map((w) => w.close()));
      for (const cluster of clusters) cluster.disconnect();
    },
  };
}
