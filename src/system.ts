// The composition root every process uses: the order service on the outbox engine, and the invoice
// service beside it, with the roles asked for (api, relay, workers), started in order and stopped
// in reverse. Entry files only pick the roles and handle signals; tests build the same system with
// their own config.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Worker } from 'bullmq';
import type { Registry } from 'prom-client';
import { BOARD_PATH, mountAdmin } from './api/admin.ts';
import { createApiApp } from './api/app.ts';
import { gracefulCloser } from './api/graceful-close.ts';
import { applyConnectionLimits, httpServerOptions } from './api/http-server.ts';
import { createRateLimits } from './api/middleware/rate-limit.ts';
import { verifiedCustomerOf } from './api/middleware/customer-auth.ts';
import { createCustomerStore } from './api/customer-store.ts';
import { redisLoginThrottle, staffAuth } from './api/middleware/staff-auth.ts';
import { createOrderStore } from './api/order-store.ts';
import type { Config } from './config.ts';
import { closeSql, createSql, type Sql } from './db/client.ts';
import { deleteExpiredIdempotencyKeys } from './db/idempotency.ts';
import { deleteExpiredCustomerTokens } from './db/customers.ts';
import { createOutboxEngine, type Consumers, type OutboxEngine, type RelayRole } from './engine/index.ts';
import { setFaultPlan } from './fault-points.ts';
import { findInvoiceOfOrder } from './invoices/queries.ts';
import { createInvoiceService, type InvoiceService } from './invoices/service.ts';
import type { Logger } from './logger.ts';
import { createHttpMetrics, createRegistry, readOutboxStats, registerOutboxGauges, registerQueueGauges } from './metrics/metrics.ts';
import { startMetricsServer } from './metrics/server.ts';
import { ORDER_TOPOLOGY, type OrderEventType, type QueueName } from './orders/topology.ts';
import { orderConsumers } from './workers/workers.ts';

export type Role = 'api' | 'relay' | 'workers';
export type OrderEngine = OutboxEngine<OrderEventType, QueueName>;

export interface System {
  start(): Promise<void>;
  stop(): Promise<void>;
  // What stop() is waiting on now, for the line logged when the grace period runs out.
  stoppingOn(): string | undefined;
  sql: Sql;
  engine: OrderEngine;
  queues: OrderEngine['queues'];
  registry: Registry;
  app?: OpenAPIHono | undefined;
  relay?: RelayRole | undefined;
  // Every BullMQ Worker of this process (the order service's and the invoice service's).
  workers: Worker[];
  // The bound ports once started (useful with PORT=0 in tests).
  port(): number;
  metricsPort(): number | undefined;
  adminPassword: string;
}

interface ApiParts {
  config: Config;
  log: Logger;
  sql: Sql;
  // The invoice service's database, for the invoice GET /orders/:id shows (the orders' pool when
  // the invoice service keeps its tables there).
  invoicesSql: Sql;
  engine: OrderEngine;
  registry: Registry;
  adminPassword: string;
}

function buildApi({ config, log, sql, invoicesSql, engine, registry, adminPassword }: ApiParts): OpenAPIHono {
  return createApiApp({
    store: createOrderStore(sql, engine, {
      idempotencyKeyTtlS: config.IDEMPOTENCY_KEY_TTL_S,
      // A keyed order's transaction is cancelled a little before the request's 503 (src/api/idempotency.ts).
      keyedBudgetMs: Math.floor(config.REQUEST_TIMEOUT_MS * 0.9),
      menuCacheTtlMs: config.MENU_CACHE_TTL_MS,
      invoiceOf: (id) => findInvoiceOfOrder(invoicesSql, id),
    }),
    customers: createCustomerStore(sql, engine, config.CUSTOMER_TOKEN_TTL_S),
    health: {
      postgres: async () => void (await sql`SELECT 1`),
      // A key command, not PING: on a cluster it must reach the master holding our queues' slot.
      redis: async () => void (await engine.redis.exists(`${config.QUEUE_PREFIX}:ready-probe`)),
    },
    log,
    metrics: { registry, ...createHttpMetrics(registry) },
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    corsOrigins: config.CORS_ORIGINS,
    // On the engine's fail-fast command connection: a Redis away costs no wait (see rate-limit.ts).
    rateLimits: createRateLimits(engine.redis, config, log, verifiedCustomerOf),
    // /admin/** and /metrics; wrong passwords counted per client in Redis, like the rate limits.
    staffAuth: staffAuth({ password: adminPassword, settings: config, throttle: redisLoginThrottle(engine.redis, config), log }),
    mountAdmin: (a) => mountAdmin(a, { queues: engine.queues, outbox: engine.operations, log }),
  });
}

// The relay of the orders outbox; it also prunes the API's idempotency keys.
function buildRelay(config: Config, sql: Sql, engine: OrderEngine): RelayRole {
  return engine.relay({
    pruneTasks: [
      { table: 'idempotency_keys', prune: (limit) => deleteExpiredIdempotencyKeys(sql, config.IDEMPOTENCY_KEY_TTL_S, limit) },
      { table: 'customer_tokens', prune: (limit) => deleteExpiredCustomerTokens(sql, limit) },
    ],
  });
}

function buildWorkers(config: Config, log: Logger, sql: Sql, engine: OrderEngine, registry: Registry) {
  const orders: Consumers = engine.consumers(orderConsumers(sql, config, registry));
  const invoices: InvoiceService | undefined = config.WORKER_QUEUES.includes('invoices') ? createInvoiceService(config, log, registry) : undefined;
  return { orders, invoices, workers: [...orders.workers, ...(invoices?.consumers.workers ?? [])] };
}

// With the connection limits of src/api/http-server.ts (headers, request and keep-alive timeouts,
// a connection cap, header size and count).
async function listen(app: OpenAPIHono, config: Config, log: Logger): Promise<ServerType> {
  return new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST, serverOptions: httpServerOptions(config) }, () => resolve(s));
    applyConnectionLimits(s as Server, config, log); // serve() makes an HTTP/1 server
  });
}

function announce(log: Logger, config: Config, server: ServerType, adminPassword: string): void {
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  log.info({ url }, `API listening on ${url}`);
  if (config.ADMIN_PASSWORD) {
    log.info(`Bull Board at ${url}${BOARD_PATH} (user ${config.ADMIN_USER})`);
    return;
  }
  // A generated password goes to the terminal (stderr, plain text) only: the JSON log stream is
  // shipped and kept where anyone reading the logs would get the admin area.
  log.info(`Bull Board at ${url}${BOARD_PATH}: user ${config.ADMIN_USER}, generated password on stderr (set ADMIN_PASSWORD to choose one)`);
  process.stderr.write(
    `\nBull Board and /metrics: user ${config.ADMIN_USER}, generated password ${adminPassword}\n(valid until this process stops; set ADMIN_PASSWORD to choose one)\n\n`,
  );
}

export function createSystem(config: Config, log: Logger, roles: readonly Role[]): System {
  setFaultPlan(config.FAULT_INJECTION);
  const has = (r: Role) => roles.includes(r);
  const sql = createSql({ url: config.DATABASE_URL, max: config.PG_POOL_MAX, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, prepare: config.PG_PREPARE, log });
  const registry = createRegistry();
  const engine = createOutboxEngine({ topology: ORDER_TOPOLOGY, sql, settings: config, log, registry });
  // Every process has the database and the queues, whatever its roles: the relay lag and the queue
  // depth show on each (the API above all), so a dead relay or worker fleet still shows.
  registerOutboxGauges(registry, () => readOutboxStats(sql));
  registerQueueGauges(registry, engine.queues);
  const relay = has('relay') ? buildRelay(config, sql, engine) : undefined;
  const workers = has('workers') ? buildWorkers(config, log, sql, engine, registry) : undefined;
  const adminPassword = config.ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
  const invoicesSql =
    has('api') && config.INVOICES_DATABASE_URL
      ? createSql({ url: config.INVOICES_DATABASE_URL, max: 2, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, prepare: config.PG_PREPARE, log })
      : sql;
  const app = has('api') ? buildApi({ config, log, sql, invoicesSql, engine, registry, adminPassword }) : undefined;
  let server: ServerType | undefined;
  let closeServer: (() => Promise<void>) | undefined;
  let stoppingOn: (() => string) | undefined; // a function: the relay's part changes as it stops
  let metricsServer: Server | undefined;

  return {
    sql,
    engine,
    queues: engine.queues,
    registry,
    app,
    relay,
    workers: workers?.workers ?? [],
    adminPassword,
    port: () => (server?.address() as AddressInfo | null)?.port ?? config.PORT,
    metricsPort: () => (metricsServer?.address() as AddressInfo | null)?.port,
    async start() {
      // A process without the API is observable before it starts work: a relay that dies in its
      // first batch (a backlog after a crash) has still answered /metrics once it was up.
      if (!app) metricsServer = await startMetricsServer(registry, config.METRICS_PORT, config.HOST, log);
      await engine.start();
      await workers?.invoices?.start();
      await workers?.orders.start();
      await relay?.start();
      if (app) {
        server = await listen(app, config, log);
        closeServer = gracefulCloser(server as Server); // serve() makes an HTTP/1 server
        announce(log, config, server, adminPassword);
      }
      log.info({ roles, queues: workers ? config.WORKER_QUEUES : undefined }, 'started');
    },
    stoppingOn: () => stoppingOn?.(),
    async stop() {
      // Reverse order of start: stop intake first, then publishing, then let active jobs finish.
      const close = closeServer;
      closeServer = undefined;
      server = undefined;
      const step = async (what: string | (() => string), fn: () => Promise<unknown> | undefined) => {
        stoppingOn = typeof what === 'string' ? () => what : what;
        await fn();
      };
      await step('HTTP requests in flight', () => close?.());
      metricsServer?.close();
      if (relay)
        await step(
          () => `the relay (${relay.stoppingOn().join(', ')})`,
          () => relay.stop(),
        );
      await step('order consumers (jobs still running)', () => workers?.orders.stop());
      await step('invoice consumers (jobs still running)', () => workers?.invoices?.stop());
      await step('the engine (its Redis connections)', () => engine.stop());
      await step('closing the Postgres connections', async () => {
        if (invoicesSql !== sql) await closeSql(invoicesSql);
        await closeSql(sql);
      });
      stoppingOn = undefined;
    },
  };
}
