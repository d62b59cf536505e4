// Prometheus metrics (prom-client). One registry per process; each role registers only its own
// metrics on it, so a relay's counters do not show as zeros on an API or worker process.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface OutboxStats {
  pending: number;
  dead: number;
  oldestPendingAgeSeconds: number;
}

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
    publishFailures: new Counter({ name: 'outbox_publish_failures_total', help: 'Outbox rows that failed to publish (poison)', registers }),
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

// Gauges read from Postgres at scrape time (the relay's lag is the age of the oldest pending row).
export function registerOutboxGauges(registry: Registry, read: () => Promise<OutboxStats>): void {
  let cached: Promise<OutboxStats> | undefined;
  // One query per scrape, shared by the three gauges.
  const stats = () => (cached ??= read().finally(() => setTimeout(() => (cached = undefined), 1000).unref()));
  const gauge = (name: string, help: string, pick: (s: OutboxStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(pick(await stats()));
      },
    });
  gauge('outbox_pending_rows', 'Outbox rows still to publish', (s) => s.pending);
  gauge('outbox_dead_rows', 'Outbox rows marked dead', (s) => s.dead);
  gauge('outbox_oldest_pending_age_seconds', 'Age of the oldest unpublished row: the relay lag', (s) => s.oldestPendingAgeSeconds);
}
