// The relay as a running component: the publish loop, its LISTEN wake-up and the fallback poll,
// the reconciler and retention.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { closeSql, createSql, type Sql } from '../db/client.ts';
import type { OutboxRow } from '../db/outbox.ts';
import type { Signer } from '../engine/signing.ts';
import type { Topology } from '../engine/topology.ts';
import { createRelayMetrics, readOutboxStats, registerOutboxGauges, type RelayMetrics } from '../metrics/metrics.ts';
import type { RedisConnection } from '../redis/connection.ts';
import type { Queues } from '../redis/queues.ts';
import { WAKE_CHANNEL } from './notifier.ts';
import { createBatchProcessor, createReconcilePage } from './outbox-store.ts';
import { type BatchOutcome, publishRows } from './publish.ts';
import { createReconciler } from './reconciler.ts';
import { createRelay, type Relay } from './relay.ts';
import { createRetention, type PruneTask } from './retention.ts';

export interface RelaySettings {
  RELAY_BATCH_SIZE: number;
  RELAY_CONCURRENCY: number;
  RELAY_POLL_INTERVAL_MS: number;
  RELAY_COALESCE_MS: number;
  RELAY_MAX_ATTEMPTS: number;
  RELAY_RETRY_BASE_MS: number;
  RELAY_MAX_PAYLOAD_BYTES: number;
  RECONCILE_AFTER_MS: number;
  RECONCILE_INTERVAL_MS: number;
  OUTBOX_RETENTION_S: number;
  INBOX_RETENTION_S: number;
  RETENTION_INTERVAL_MS: number;
  PG_CONNECT_TIMEOUT_S: number;
  DATABASE_LISTEN_URL?: string | undefined;
}

export interface RelayRoleDeps {
  settings: RelaySettings;
  topology: Topology;
  signer?: Signer | undefined;
  log: Logger;
  sql: Sql;
  redis: RedisConnection;
  queues: Queues;
  registry: Registry;
  // Tables of the service pruned beside the engine's (see retention.ts).
  pruneTasks?: readonly PruneTask[] | undefined;
}

export interface RelayRole {
  start(): Promise<void>;
  stop(): Promise<void>;
  // The parts a stop() in progress still waits on.
  stoppingOn(): string[];
  wake(): void;
  relay: Relay;
  reconciler: ReturnType<typeof createReconciler>;
  retention: ReturnType<typeof createRetention>;
}

export function createRelayRole(deps: RelayRoleDeps): RelayRole {
  const { settings, topology, log, sql, redis, queues } = deps;
  const metrics = createRelayMetrics(deps.registry);
  // Once per registry: src/system.ts registers them on every process with the database.
  registerOutboxGauges(deps.registry, () => readOutboxStats(sql));
  const relay = createRelay({
    processBatch: createBatchProcessor(sql, { maxAttempts: settings.RELAY_MAX_ATTEMPTS, baseDelayMs: settings.RELAY_RETRY_BASE_MS }, topology.unroutedEventTypes),
    publish: async (rows) => {
      const outcome = await publishRows(rows, {
        topology,
        signer: deps.signer,
        addBulk: (queue, jobs) => queues[queue]!.addBulk(jobs),
        isRedisReady: () => redis.status === 'ready',
        maxPayloadBytes: settings.RELAY_MAX_PAYLOAD_BYTES,
      });
      countFailedRows(rows, outcome, settings.RELAY_MAX_ATTEMPTS, metrics);
      return outcome;
    },
    log,
    batchSize: settings.RELAY_BATCH_SIZE,
    concurrency: settings.RELAY_CONCURRENCY,
    pollIntervalMs: settings.RELAY_POLL_INTERVAL_MS,
    coalesceMs: settings.RELAY_COALESCE_MS,
    onBatch: (outcome, ms) => {
      metrics.published.inc(outcome.published.length);
      metrics.publishFailures.inc(outcome.failed.length);
      metrics.batchDuration.observe(ms / 1000);
    },
  });

  const reconcilePageSize = 500;
  const reconciler = createReconciler({
    reconcilePage: createReconcilePage(sql, settings.RECONCILE_AFTER_MS, reconcilePageSize),
    topology,
    jobState: (queue, id) => queues[queue]!.getJobState(id),
    onRepublished: (count) => {
      metrics.republished.inc(count);
      relay.wake();
    },
    log,
    intervalMs: settings.RECONCILE_INTERVAL_MS,
    pageSize: reconcilePageSize,
  });

  const retention = createRetention(
    sql,
    { outboxS: settings.OUTBOX_RETENTION_S, inboxS: settings.INBOX_RETENTION_S, intervalMs: settings.RETENTION_INTERVAL_MS },
    log,
    deps.pruneTasks,
  );

  const listener = createWakeListener(settings, sql, () => relay.wake(), log);
  const stopping = new Set<string>(); // the parts whose stop has not returned yet

  return {
    relay,
    reconciler,
    retention,
    wake: () => relay.wake(),
    async start() {
      relay.start();
      reconciler.start();
      retention.start();
      await listener.start();
    },
    // All at once: each waits on its own work in flight (a retention batch, a reconcile page, a
    // batch being published), and the grace period is shared, so their waits must not add up.
    async stop() {
      const parts = { 'LISTEN connection': listener.stop, 'retention pass': retention.stop, 'reconcile page': reconciler.stop, 'batch being published': relay.stop };
      await Promise.all(
        Object.entries(parts).map(async ([name, stopPart]) => {
          stopping.add(name);
          await stopPart();
          stopping.delete(name);
        }),
      );
    },
    stoppingOn: () => [...stopping],
  };
}

// Rows, not attempts: a row's first failure, and the failure that makes it dead (recordPublishFailure
// marks it dead when attempts + 1 reaches the maximum).
function countFailedRows(rows: readonly OutboxRow[], outcome: BatchOutcome, maxAttempts: number, metrics: RelayMetrics): void {
  if (outcome.failed.length === 0) return;
  const failed = new Set(outcome.failed.map((f) => f.id));
  for (const row of rows) {
    if (!failed.has(row.id)) continue;
    if (row.attempts === 0) metrics.rowsFailed.inc();
    if (row.attempts + 1 >= maxAttempts) metrics.rowsDead.inc();
  }
}

// The relay's LISTEN wake-up. postgres.js re-listens after a reconnect by itself; notifications
// sent during the gap are lost, so every (re)listen triggers a rescan. LISTEN holds a session:
// behind a transaction-mode pooler it needs its own direct connection (DATABASE_LISTEN_URL).
function createWakeListener(settings: RelaySettings, sql: Sql, wake: () => void, log: Logger) {
  const listenSql = settings.DATABASE_LISTEN_URL ? createSql({ url: settings.DATABASE_LISTEN_URL, max: 1, connectTimeoutS: settings.PG_CONNECT_TIMEOUT_S, log }) : sql;
  let listener: { unlisten(): Promise<void> } | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  const listen = async () => {
    try {
      listener = await listenSql.listen(WAKE_CHANNEL, wake, wake);
    } catch (err) {
      if (stopped) return;
      log.warn({ err: (err as Error).message }, 'LISTEN failed; polling until it works');
      retryTimer = setTimeout(listen, settings.RELAY_POLL_INTERVAL_MS);
    }
  };
  return {
    async start() {
      stopped = false;
      await listen();
    },
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await listener?.unlisten().catch(() => {});
      listener = undefined;
      if (listenSql !== sql) await closeSql(listenSql);
    },
  };
}
