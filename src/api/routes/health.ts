// Liveness (the process answers) and readiness (Postgres and Redis answer).
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';

export interface HealthChecks {
  postgres: () => Promise<void>;
  redis: () => Promise<void>;
}

const READY_TIMEOUT_MS = 2000;

const ReadinessSchema = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()) }).openapi('Readiness');

const liveRoute = createRoute({
  method: 'get',
  path: '/health/live',
  summary: 'The process is up',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

const readyRoute = createRoute({
  method: 'get',
  path: '/health/ready',
  summary: 'Postgres and Redis answer',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: ReadinessSchema } } },
    503: { description: 'A dependency does not answer', content: { 'application/json': { schema: ReadinessSchema } } },
  },
});

async function probe(check: () => Promise<void>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return `unavailable: ${err instanceof Error ? err.message : String(err)}`.slice(0, 200);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(app: OpenAPIHono, checks: HealthChecks): void {
  app.openapi(liveRoute, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyRoute, async (c) => {
    const [postgres, redis] = await Promise.all([probe(checks.postgres), probe(checks.redis)]);
    const ok = postgres === 'ok' && redis === 'ok';
    return c.json({ status: ok ? ('ok' as const) : ('unavailable' as const), checks: { postgres, redis } }, ok ? 200 : 503);
  });
}
