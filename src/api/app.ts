// The Hono application: routes, validation, error mapping and the admin area. Pure HTTP: it gets
// narrow functions for storage and health, so tests can build it with their own.
import { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { secureHeaders } from 'hono/secure-headers';
import { timeout } from 'hono/timeout';
import type { Logger } from 'pino';
import { isConnectionError } from '../db/client.ts';
import type { Registry } from 'prom-client';
import type { HttpMetrics } from '../metrics/metrics.ts';
import { inSpan } from '../tracing.ts';
import type { OrderStore } from './order-store.ts';
import { fieldErrors, problem } from './problem.ts';
import { registerHealthRoutes, type HealthChecks } from './routes/health.ts';
import { registerOrderRoutes } from './routes/orders.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export interface ApiDeps {
  store: OrderStore;
  health: HealthChecks;
  log: Logger;
  // Mounts the password-protected admin area (Bull Board); left out in HTTP-only unit tests.
  mountAdmin?: (app: OpenAPIHono) => void;
  metrics?: HttpMetrics & { registry: Registry };
  requestTimeoutMs?: number;
  corsOrigins?: string[];
}

export function createApiApp({ store, health, log, mountAdmin, metrics, requestTimeoutMs = 10_000, corsOrigins = [] }: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        const where = result.target === 'json' ? 'body' : result.target;
        return problem(c, 400, 'Invalid request', `The request ${where} has fields that are wrong; see errors.`, fieldErrors(result.error));
      }
      return undefined;
    },
  });

  if (metrics) {
    app.use('*', async (c, next) => {
      const end = metrics.httpDuration.startTimer();
      await next();
      // The route pattern, not the path, keeps the label set small (/orders/{id}, not every id).
      end({ method: c.req.method, route: routePath(c, -1), status: String(c.res.status) });
    });
    app.get('/metrics', async (c) => c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  }
  // A server span per request, child of the caller's traceparent (real only with an OpenTelemetry SDK).
  app.use('*', (c, next) => inSpan(`${c.req.method} ${routePath(c, -1)}`, 'server', { traceparent: c.req.header('traceparent') }, next));
  app.use('*', secureHeaders());
  // CORS stays off unless origins are configured.
  if (corsOrigins.length > 0) app.use('*', cors({ origin: corsOrigins, allowHeaders: ['content-type', 'idempotency-key', 'traceparent'] }));
  app.use(
    '*',
    timeout(requestTimeoutMs, () => new HTTPException(503, { message: `The request took longer than ${requestTimeoutMs} ms; retry it (with an Idempotency-Key to be safe).` })),
  );

  // Every request that carries a body: JSON only, and never more than MAX_BODY_BYTES (chunked or not).
  // Bodiless POSTs (admin actions) pass; a route that requires a body refuses them in validation.
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.path.startsWith('/admin/queues')) return next(); // Bull Board has its own API
    const hasBody = Number(c.req.header('content-length') ?? 0) > 0 || c.req.header('transfer-encoding') !== undefined;
    const type = c.req.header('content-type') ?? '';
    if (hasBody && !/^application\/json\s*(;|$)/i.test(type)) {
      return problem(c, 415, 'Unsupported media type', 'Send the body as JSON with Content-Type: application/json.');
    }
    return next();
  });
  const tooLarge = (c: Context) => {
    // The rest of the body is never read: close the connection so no client reuses it mid-body.
    c.header('connection', 'close');
    return problem(c, 413, 'Body too large', `The body must be at most ${MAX_BODY_BYTES} bytes.`);
  };
  const limitStreamedBody = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    // A declared length is checked from the header alone (Node never reads past it). Hono's
    // bodyLimit would first build a WHATWG Request around the socket (a tenth of the API's CPU
    // per order); it is kept for chunked bodies, which it counts as they stream.
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) return Number(length) > MAX_BODY_BYTES ? tooLarge(c) : next();
    return limitStreamedBody(c, next);
  });

  registerHealthRoutes(app, health);
  registerOrderRoutes(app, store, log);
  mountAdmin?.(app);

  app.openAPIRegistry.registerComponent('securitySchemes', 'basicAuth', { type: 'http', scheme: 'basic' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'pizza-outbox',
      version: '1.0.0',
      description: 'A pizza shop order service on a transactional outbox: Postgres → BullMQ, reliably.',
    },
  });
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'pizza-outbox API' }));

  app.notFound((c) => problem(c, 404, 'Not found', `No route for ${c.req.method} ${c.req.path}.`));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      if (err.res) return err.res;
      const status = err.status;
      const title = status === 400 ? 'Invalid request' : status === 503 ? 'Service unavailable' : 'Request refused';
      return problem(c, status, title, err.message || undefined);
    }
    if (isConnectionError(err)) {
      log.warn({ code: (err as { code?: string }).code, path: c.req.path }, 'postgres unavailable');
      c.header('retry-after', '1');
      return problem(c, 503, 'Service unavailable', 'The database is not answering; retry in a moment.');
    }
    log.error({ err, path: c.req.path, method: c.req.method }, 'unhandled error');
    return problem(c, 500, 'Internal error', 'Something went wrong on our side; the error is logged.');
  });
  return app;
}
