// The composition root every process uses: it builds the shared clients and the roles asked for
// (api, relay, workers), starts them in order and stops them in reverse. Entry files only pick
// the roles and handle signals; tests build the same system with their own config.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Config } from './config.ts';
import { createSql, type Sql } from './db/client.ts';
import type { Logger } from './logger.ts';
import { mountAdmin, BOARD_PATH } from './api/admin.ts';
import { createApiApp } from './api/app.ts';
import { gracefulCloser } from './api/graceful-close.ts';
import { createOrderStore } from './api/order-store.ts';
import { createOutboxOperations } from './outbox-admin/operations.ts';
import { setFaultPlan } from './fault-points.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { startMetricsServer } from './metrics/server.ts';
import { createCoalescedNotifier, WAKE_CHANNEL } from './relay/notifier.ts';
import { createRelayRole, type RelayRole } from './relay/relay-role.ts';
import { checkEvictionPolicy, createCommandConnection, waitUntilReady } from './redis/connection.ts';
import { closeQueues, createQueues, type Queues } from './redis/queues.ts';
import { createWorkers, type Workers } from './workers/workers.ts';

export type Role = 'api' | 'relay' | 'workers';

export interface System {
  start(): Promise<void>;
  stop(): Promise<void>;
  sql: Sql;
  queues: Queues;
  metrics: Metrics;
  app?: OpenAPIHono;
  relay?: RelayRole;
  workers?: Workers;
  // The bound ports once started (useful with PORT=0 in tests).
  port(): number;
  metricsPort(): number | undefined;
  adminPassword: string;
}

const NOTIFY_MIN_GAP_MS = 5;

export function createSystem(config: Config, log: Logger, roles: readonly Role[]): System {
  setFaultPlan(config.FAULT_INJECTION);
  const has = (r: Role) => roles.includes(r);
  const sql = createSql({ url: config.DATABASE_URL, max: config.PG_POOL_MAX, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, prepare: config.PG_PREPARE, log });
  const redis = createCommandConnection(config, log, 'outbox-commands');
  const queues = createQueues(redis, config, (err) => log.debug({ err: err.message }, 'queue connection error'));
  const metrics = createMetrics();
  const relay = has('relay') ? createRelayRole({ config, log, sql, redis, queues, metrics }) : undefined;
  // Next to a relay, API and workers hand new events off in-process; otherwise they wake the
  // relays elsewhere with a coalesced NOTIFY after their commit.
  const notifier = relay
    ? undefined
    : createCoalescedNotifier(() => sql.notify(WAKE_CHANNEL, ''), NOTIFY_MIN_GAP_MS, (err) =>
        log.debug({ err: (err as Error).message }, 'relay wake-up NOTIFY failed; relays will poll'),
      );
  const onEventCommitted = relay ? () => relay.wake() : () => notifier!.poke();
  const workers = has('workers') ? createWorkers(sql, config, log, metrics, onEventCommitted) : undefined;

  const adminPassword = config.ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
  let server: ServerType | undefined;
  let closeServer: (() => Promise<void>) | undefined;
  let metricsServer: Server | undefined;
  let app: OpenAPIHono | undefined;
  if (has('api')) {
    app = createApiApp({
      store: createOrderStore(sql, onEventCommitted, config.IDEMPOTENCY_KEY_TTL_S),
      health: {
        postgres: async () => void (await sql`SELECT 1`),
        // A key command, not PING: on a cluster it must reach the master holding our queues' slot.
        redis: async () => void (await redis.exists(`${config.QUEUE_PREFIX}:ready-probe`)),
      },
      log,
      metrics,
      requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
      corsOrigins: config.CORS_ORIGINS,
      mountAdmin: (a) =>
        mountAdmin(a, { user: config.ADMIN_USER, password: adminPassword, queues, outbox: createOutboxOperations(sql, queues, onEventCommitted) }),
    });
  }

  async function checkRedis(): Promise<void> {
    try {
      await waitUntilReady(redis, 3000);
    } catch {
      log.warn('Redis is not answering yet; orders are still accepted and will be published once it is back');
      redis.once('ready', () => void checkEvictionPolicy(redis, log, false));
      return;
    }
    await checkEvictionPolicy(redis, log, config.REDIS_REQUIRE_NOEVICTION);
  }

  return {
    sql,
    queues,
    metrics,
    app,
    relay,
    workers,
    adminPassword,
    port: () => (server?.address() as AddressInfo | null)?.port ?? config.PORT,
    metricsPort: () => (metricsServer?.address() as AddressInfo | null)?.port,
    async start() {
      await checkRedis();
      await workers?.start();
      await relay?.start();
      if (app) {
        const fetch = app.fetch;
        server = await new Promise<ServerType>((resolve) => {
          const s = serve({ fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
        });
        closeServer = gracefulCloser(server as Server); // serve() makes an HTTP/1 server
        const url = `http://localhost:${(server.address() as AddressInfo).port}`;
        log.info({ url }, `API listening on ${url}`);
        if (config.ADMIN_PASSWORD) log.info(`Bull Board at ${url}${BOARD_PATH} (user ${config.ADMIN_USER})`);
        else log.info(`Bull Board at ${url}${BOARD_PATH}: user ${config.ADMIN_USER}, generated password ${adminPassword} (set ADMIN_PASSWORD to choose one)`);
      } else {
        metricsServer = await startMetricsServer(metrics.registry, config.METRICS_PORT, config.HOST, log);
      }
      log.info({ roles, queues: workers ? config.WORKER_QUEUES : undefined }, 'started');
    },
    async stop() {
      // Reverse order of start: stop intake first, then publishing, then let active jobs finish.
      if (closeServer) {
        const close = closeServer;
        closeServer = undefined;
        server = undefined;
        await close();
      }
      metricsServer?.close();
      notifier?.stop();
      await relay?.stop();
      await workers?.stop();
      await closeQueues(queues);
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}
