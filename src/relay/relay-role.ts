// The relay as a running component: the publish loop, its LISTEN wake-up and the fallback poll.
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createSql, type Sql } from '../db/client.ts';
import type { RedisConnection } from '../redis/connection.ts';
import type { Queues } from '../redis/queues.ts';
import { outboxStats } from '../db/outbox.ts';
import { registerOutboxGauges, type Metrics } from '../metrics/metrics.ts';
import { WAKE_CHANNEL } from './notifier.ts';
import { createBatchProcessor, createReconcilePage } from './outbox-store.ts';
import { publishRows } from './publish.ts';
import { createReconciler } from './reconciler.ts';
import { createRelay, type Relay } from './relay.ts';
import { createRetention } from './retention.ts';

export interface RelayRole {
  start(): Promise<void>;
  stop(): Promise<void>;
  wake(): void;
  relay: Relay;
  reconciler: ReturnType<typeof createReconciler>;
  retention: ReturnType<typeof createRetention>;
}

export function createRelayRole(deps: { config: Config; log: Logger; sql: Sql; redis: RedisConnection; queues: Queues; metrics: Metrics }): RelayRole {
  const { config, log, sql, redis, queues, metrics } = deps;
  registerOutboxGauges(metrics, () => outboxStats(sql));
  const relay = createRelay({
    processBatch: createBatchProcessor(sql, { maxAttempts: config.RELAY_MAX_ATTEMPTS, baseDelayMs: config.RELAY_RETRY_BASE_MS }),
    publish: (rows) =>
      publishRows(rows, {
        addBulk: (queue, jobs) => queues[queue].addBulk(jobs),
        isRedisReady: () => redis.status === 'ready',
        maxPayloadBytes: config.RELAY_MAX_PAYLOAD_BYTES,
      }),
    log,
    batchSize: config.RELAY_BATCH_SIZE,
    concurrency: config.RELAY_CONCURRENCY,
    pollIntervalMs: config.RELAY_POLL_INTERVAL_MS,
    coalesceMs: config.RELAY_COALESCE_MS,
    onBatch: (outcome, ms) => {
      metrics.published.inc(outcome.published.length);
      metrics.publishFailures.inc(outcome.failed.length);
      metrics.batchDuration.observe(ms / 1000);
    },
  });

  const reconcilePageSize = 500;
  const reconciler = createReconciler({
    reconcilePage: createReconcilePage(sql, config.RECONCILE_AFTER_MS, reconcilePageSize),
    jobState: (queue, id) => queues[queue].getJobState(id),
    onRepublished: (count) => {
      metrics.republished.inc(count);
      relay.wake();
    },
    log,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    pageSize: reconcilePageSize,
  });

  const retention = createRetention(
    sql,
    { outboxS: config.OUTBOX_RETENTION_S, inboxS: config.INBOX_RETENTION_S, idempotencyKeyS: config.IDEMPOTENCY_KEY_TTL_S, intervalMs: config.RETENTION_INTERVAL_MS },
    log,
  );

  // LISTEN holds a session; behind a transaction-mode pooler it needs its own direct connection.
  const listenSql = config.DATABASE_LISTEN_URL
    ? createSql({ url: config.DATABASE_LISTEN_URL, max: 1, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, log })
    : sql;
  let listener: { unlisten(): Promise<void> } | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;

  // postgres.js re-listens after a reconnect by itself; notifications sent during the gap are lost,
  // so every (re)listen triggers a rescan.
  const listen = async () => {
    try {
      listener = await listenSql.listen(WAKE_CHANNEL, () => relay.wake(), () => relay.wake());
    } catch (err) {
      if (stopped) return;
      log.warn({ err: (err as Error).message }, 'LISTEN failed; polling until it works');
      retryTimer = setTimeout(listen, config.RELAY_POLL_INTERVAL_MS);
    }
  };

  return {
    relay,
    reconciler,
    retention,
    wake: () => relay.wake(),
    async start() {
      stopped = false;
      relay.start();
      reconciler.start();
      retention.start();
      await listen();
    },
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await listener?.unlisten().catch(() => {});
      listener = undefined;
      if (listenSql !== sql) await listenSql.end({ timeout: 5 });
      await retention.stop();
      await reconciler.stop();
      await relay.stop();
    },
  };
}
