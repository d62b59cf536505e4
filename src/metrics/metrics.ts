// Prometheus metrics (prom-client). One registry per process; each role registers only its own
// metrics on it, so a relay's counters do not show as zeros on an API or worker process.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildInfo, type BuildInfo } from './build-info.ts';

// Scrape-time gauges every process with the database or the queues exports (src/system.ts).
export { readOutboxStats, registerOutboxGauges, type OutboxStats } from './outbox-gauges.ts';
export { registerQueueGauges } from './queue-gauges.ts';

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// With Node's default metrics and pizza_outbox_build_info{version,commit,node} 1, which tells what
// runs where (and, joined to any series, which version produced it).
export function createRegistry(build: Partial<BuildInfo> = {}): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const info = { ...buildInfo(), ...build };
  new Gauge({
    name: 'pizza_outbox_build_info',
    help: 'Always 1: the version, commit and Node.js version of this process',
    labelNames: ['version', 'commit', 'node'] as const,
    registers: [registry],
  }).set(info, 1);
  return registry;
}

export function createHttpMetrics(registry: Registry) {
  return {
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}

export function createRelayMetrics(registry: Registry) {
  const registers = [registry];
  return {
    published: new Counter({ name: 'outbox_published_total', help: 'Outbox rows published to BullMQ', registers }),
    // Attempts, not rows: a row backing off counts once per failed attempt. The rows themselves are
    // outbox_rows_failed_total (each row once) and the outbox_backing_off_rows gauge (now).
    publishFailures: new Counter({ name: 'outbox_publish_failures_total', help: 'Failed attempts to publish an outbox row (a row counts once per attempt)', registers }),
    rowsFailed: new Counter({ name: 'outbox_rows_failed_total', help: 'Outbox rows that failed to publish for the first time (each row once, until requeued)', registers }),
    rowsDead: new Counter({ name: 'outbox_rows_dead_total', help: 'Outbox rows this relay marked dead after their last attempt failed', registers }),
    republished: new Counter({ name: 'outbox_republished_total', help: 'Published rows handed back to the relay because Redis lost their jobs', registers }),
    batchDuration: new Histogram({ name: 'relay_batch_duration_seconds', help: 'Time to add one claimed batch to BullMQ', buckets: LATENCY_BUCKETS, registers }),
  };
}

// Several services in one process (npm start runs the invoice service beside the order service)
// share one set of consumer metrics, labelled by queue.
const consumerMetrics = new WeakMap<Registry, ReturnType<typeof makeConsumerMetrics>>();

export function createConsumerMetrics(registry: Registry) {
  let metrics = consumerMetrics.get(registry);
  if (!metrics) {
    metrics = makeConsumerMetrics(registry);
    consumerMetrics.set(registry, metrics);
  }
  return metrics;
}

function makeConsumerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    jobsCompleted: new Counter({
      name: 'jobs_completed_total',
      help: 'Jobs completed, by queue and outcome (done, duplicate, skipped)',
      labelNames: ['queue', 'outcome'] as const,
      registers,
    }),
    jobsFailed: new Counter({ name: 'jobs_failed_total', help: 'Jobs that failed for good (moved to the failed set)', labelNames: ['queue'] as const, registers }),
    jobsRetried: new Counter({ name: 'jobs_retried_total', help: 'Job attempts that failed and will be retried', labelNames: ['queue'] as const, registers }),
    jobDuration: new Histogram({
      name: 'job_processing_duration_seconds',
      help: 'Job processing time by queue',
      labelNames: ['queue'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    // Group commit (src/engine/batch.ts): how many jobs shared each load and each recording commit.
    batchSize: new Histogram({
      name: 'consumer_batch_size',
      help: 'Jobs served by one statement (load) or one commit (record) of the consumers',
      labelNames: ['statement'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
  };
}

export type HttpMetrics = ReturnType<typeof createHttpMetrics>;
export type RelayMetrics = ReturnType<typeof createRelayMetrics>;
export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;
