// The Hono application: routes, validation, error mapping and the admin area. Pure HTTP: it gets
// narrow functions for storage and health, so tests can build it with their own.
import { OpenAPIHono } from '@hono/zod-openapi';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import { timeout } from 'hono/timeout';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { MiddlewareHandler } from 'hono';
import type { HttpMetrics } from '../metrics/metrics.ts';
import type { OrderStore } from './order-store.ts';
import { limitBody } from './middleware/body-limit.ts';
import { jsonOnly } from './middleware/json-only.ts';
import { utf8Body } from './middleware/utf8-body.ts';
import { requestMetrics } from './middleware/request-metrics.ts';
import { serverSpan } from './middleware/server-span.ts';
import { defaultContentSecurityPolicy } from './middleware/content-security-policy.ts';
import { problemErrorHandler } from './middleware/error-handler.ts';
import { sameOriginOnly } from './middleware/csrf.ts';
import type { RateLimits } from './middleware/rate-limit.ts';
import { fieldErrors, problem } from './problem.ts';
import { registerApiDocs } from './routes/docs.ts';
import { registerHealthRoutes, type HealthChecks } from './routes/health.ts';
import { registerOrderRoutes } from './routes/orders.ts';
import { registerMenuRoutes } from './routes/menu.ts';
import { registerUserRoutes, type CustomerStore } from './routes/users.ts';
import { identifyCaller } from './middleware/customer-auth.ts';

export const MAX_BODY_BYTES = 64 * 1024;
const JSON_API_PATHS = ['/orders', '/orders/*', '/pizza', '/users', '/users/*', '/admin/outbox/*'];
// Where the caller (customer token, staff Basic, an order's access token) is identified.
const CALLER_PATHS = ['/orders', '/orders/*', '/pizza', '/users', '/users/*'];
const STAFF_PATHS = ['/admin', '/admin/*'];

export interface ApiDeps {
  store: OrderStore;
  health: HealthChecks;
  log: Logger;
  // Mounts the password-protected admin area (Bull Board); left out in HTTP-only unit tests.
  mountAdmin?: (app: OpenAPIHono) => void;
  metrics?: HttpMetrics & { registry: Registry };
  // Staff auth (throttled HTTP Basic, src/api/middleware/staff-auth.ts) for /admin/** and /metrics;
  // without it /metrics is not served at all.
  staffAuth?: MiddlewareHandler;
  requestTimeoutMs?: number;
  corsOrigins?: string[];
  // Per-client limits on order creation and the list (src/api/middleware/rate-limit.ts); none when left out.
  rateLimits?: RateLimits;
  // Customers (POST /users, login, logout) and their tokens; without it no customer token is valid.
  customers?: CustomerStore & { customerOfToken: (tokenHash: Buffer) => Promise<string | undefined> };
}

export function createApiApp({
  store,
  health,
  log,
  mountAdmin,
  metrics,
  staffAuth,
  requestTimeoutMs = 10_000,
  corsOrigins = [],
  rateLimits = {},
  customers,
}: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        const where = result.target === 'json' ? 'body' : result.target;
        return problem(c, 400, 'Invalid request', `The request ${where} has fields that are wrong; see errors.`, fieldErrors(result.error));
      }
      return undefined;
    },
  });

  if (metrics) app.use('*', requestMetrics(metrics));
  // A server span per request, child of the caller's traceparent (real only with an OpenTelemetry SDK).
  app.use('*', serverSpan());
  // No framing anywhere; a Content-Security-Policy on every response (the pages set their own).
  app.use('*', secureHeaders({ xFrameOptions: 'DENY' }), defaultContentSecurityPolicy());
  // CORS stays off unless origins are configured.
  if (corsOrigins.length > 0) app.use('*', cors({ origin: corsOrigins, allowHeaders: ['content-type', 'idempotency-key', 'traceparent', 'authorization'] }));
  app.use(
    '*',
    timeout(requestTimeoutMs, () => new HTTPException(503, { message: `The request took longer than ${requestTimeoutMs} ms; retry it (with an Idempotency-Key to be safe).` })),
  );
  // Staff only, before any body is read: state-changing requests from another origin refused (CSRF,
  // csrf.ts), then the password. /metrics too: queue depths and error rates are not for customers.
  for (const path of STAFF_PATHS) app.use(path, sameOriginOnly());
  if (staffAuth) for (const path of [...STAFF_PATHS, '/metrics']) app.use(path, staffAuth);
  if (metrics && staffAuth) {
    app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  }
  // Who is calling, before the rate limits: a verified customer is counted by their token. Staff
  // Basic goes through the same throttled staff auth as /admin.
  const identify = identifyCaller({ customerOfToken: customers?.customerOfToken ?? (async () => undefined), staffGuard: staffAuth });
  for (const path of CALLER_PATHS) app.use(path, identify);
  // Before the body is read: a client past its limit costs one counter lookup.
  if (rateLimits.createOrder) for (const path of ['/orders', '/pizza']) app.on('POST', path, rateLimits.createOrder);
  if (rateLimits.listOrders) app.on('GET', '/orders', rateLimits.listOrders);
  // Before the password hash: a client past its limit costs no scrypt.
  if (rateLimits.signIn) for (const path of ['/users', '/users/login']) app.on('POST', path, rateLimits.signIn);
  // Every request that carries a body: never more than MAX_BODY_BYTES; and JSON, on the JSON API's
  // own paths (Bull Board's API under /admin/queues takes other bodies).
  app.use('*', limitBody(MAX_BODY_BYTES));
  // and valid UTF-8 (never decoded with replacement characters into something the client did not send).
  for (const path of JSON_API_PATHS) app.use(path, jsonOnly(), utf8Body());

  registerHealthRoutes(app, health, log);
  registerOrderRoutes(app, store, log);
  registerMenuRoutes(app, store.menu);
  if (customers) registerUserRoutes(app, customers, log);
  mountAdmin?.(app);

  registerApiDocs(app);

  app.notFound((c) => problem(c, 404, 'Not found', `No route for ${c.req.method} ${c.req.path}.`));
  app.onError(problemErrorHandler(log));
  return app;
}
