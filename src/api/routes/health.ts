// Liveness (the process answers) and readiness (Postgres and Redis answer). Readiness says which
// dependency is down and nothing more: anyone can call it, so the driver's error (addresses,
// ports, database names) goes to the log at warn, with what to check, never into the response.
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import { errorSummary } from '../error-summary.ts';

export interface HealthChecks {
  postgres: () => Promise<void>;
  redis: () => Promise<void>;
}
type Dependency = keyof HealthChecks;

const READY_TIMEOUT_MS = 2000;

const CheckStateSchema = z.enum(['ok', 'unavailable']).openapi('CheckState');
const ReadinessSchema = z
  .object({ status: CheckStateSchema, checks: z.object({ postgres: CheckStateSchema, redis: CheckStateSchema }) })
  .openapi('Readiness', { example: { status: 'unavailable', checks: { postgres: 'ok', redis: 'unavailable' } } });

const liveRoute = createRoute({
  method: 'get',
  path: '/health/live',
  operationId: 'getLiveness',
  summary: 'The process is up',
  security: [{}],
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

const readyRoute = createRoute({
  method: 'get',
  path: '/health/ready',
  operationId: 'getReadiness',
  summary: 'Postgres and Redis answer',
  description: `Each dependency is "ok" or "unavailable" (no answer within ${READY_TIMEOUT_MS} ms, or an error); why is logged at warn, never returned.`,
  security: [{}],
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: ReadinessSchema } } },
    503: { description: 'A dependency does not answer', content: { 'application/json': { schema: ReadinessSchema } } },
  },
});

// The one thing an operator should look at first, per dependency.
export function whatToCheck(dependency: Dependency, err: unknown): string {
  if (dependency === 'redis') return 'check REDIS_URL (or REDIS_CLUSTER_NODES for a cluster) and that Redis is running';
  if ((err as { code?: unknown } | null)?.code === '3D000') {
    return 'the database named in DATABASE_URL does not exist: `npm run migrate` (or `npm start`) creates it';
  }
  return 'check DATABASE_URL and that Postgres is running and accepts connections';
}

class ReadyTimeoutError extends Error {
  override name = 'ReadyTimeoutError';
}

async function probe(check: () => Promise<void>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new ReadyTimeoutError(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      }),
    ]);
    return undefined;
  } catch (err) {
    return err ?? new Error('the check failed without an error');
  } finally {
    clearTimeout(timer);
  }
}

// Logs a dependency going down (and each new reason) at warn, the same reason again at debug, so a
// probe every few seconds during an outage does not flood the log; and its return at info.
function outageLog(log: Logger) {
  const last = new Map<Dependency, string>();
  return (dependency: Dependency, err: unknown) => {
    const before = last.get(dependency);
    if (err === undefined) {
      if (before !== undefined) log.info({ dependency }, `readiness: ${dependency} answers again`);
      last.delete(dependency);
      return;
    }
    const summary = errorSummary(err);
    const reason = `${summary.code ?? ''} ${summary.message}`;
    last.set(dependency, reason);
    const hint = whatToCheck(dependency, err);
    log[before === reason ? 'debug' : 'warn']({ dependency, error: summary, check: hint }, `readiness: ${dependency} unavailable: ${hint}`);
  };
}

export function registerHealthRoutes(app: OpenAPIHono, checks: HealthChecks, log: Logger): void {
  const record = outageLog(log);
  app.openapi(liveRoute, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyRoute, async (c) => {
    const [postgresErr, redisErr] = await Promise.all([probe(checks.postgres), probe(checks.redis)]);
    record('postgres', postgresErr);
    record('redis', redisErr);
    const state = (err: unknown) => (err === undefined ? ('ok' as const) : ('unavailable' as const));
    const ok = postgresErr === undefined && redisErr === undefined;
    return c.json({ status: ok ? ('ok' as const) : ('unavailable' as const), checks: { postgres: state(postgresErr), redis: state(redisErr) } }, ok ? 200 : 503);
  });
}
