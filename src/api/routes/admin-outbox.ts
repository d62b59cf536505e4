// Dead-letter handling for operators, behind the same staff auth as Bull Board:
// GET /admin/outbox?state=pending|dead, POST /admin/outbox/:id/replay, POST /admin/outbox/:id/requeue.
// Each replay and requeue leaves an audit line (who, from where, which row, the outcome).
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { OutboxOperations } from '../../outbox-admin/operations.ts';
import { audit } from '../audit.ts';
import { ProblemError } from '../problem.ts';
import { safeString } from '../schemas.ts';
import { BODY_REFUSALS, problemResponse, tooManyRequests, unauthorized, unavailable } from './responses.ts';

const OutboxRowSchema = z
  .object({
    id: z.uuid(),
    aggregate_id: z.uuid(),
    event_type: z.string(),
    created_at: z.string(),
    age_seconds: z.number(),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    dead_at: z.string().nullable(),
  })
  .openapi('OutboxRow');

const IdParams = z.strictObject({ id: z.uuid('must be a UUID').openapi({ param: { name: 'id', in: 'path' } }) });
const security = [{ basicAuth: [] }];
// Staff auth (staff-auth.ts) answers before the route: no or wrong credentials, or too many wrong ones.
const staffRefusals = {
  401: unauthorized('No staff credentials, or wrong ones (HTTP Basic: ADMIN_USER and ADMIN_PASSWORD)', 'staff'),
  429: tooManyRequests(),
};

const listRoute = createRoute({
  method: 'get',
  path: '/admin/outbox',
  operationId: 'listOutboxRows',
  summary: 'Outbox rows still to publish, or dead, with age, attempts and last error',
  security,
  request: {
    query: z.strictObject({
      state: z.enum(['pending', 'dead']).openapi({ param: { name: 'state', in: 'query' } }),
      limit: safeString()
        .regex(/^\d{1,4}$/, 'must be a whole number from 1 to 1000')
        .transform(Number)
        .pipe(z.number().min(1).max(1000))
        .optional(),
    }),
  },
  responses: {
    200: { description: 'Oldest first', content: { 'application/json': { schema: z.object({ rows: z.array(OutboxRowSchema) }) } } },
    400: problemResponse('A query parameter is wrong'),
    ...staffRefusals,
    503: unavailable(),
  },
});

const actionResponses = (dependencies: string) => ({
  202: {
    description: 'Done; the relay publishes the row shortly',
    content: { 'application/json': { schema: z.object({ outcome: z.string(), removed_jobs: z.array(z.string()).optional() }) } },
  },
  400: problemResponse('The id is not a UUID, or a body (none is needed) that is not UTF-8'),
  ...staffRefusals,
  // csrf.ts: a browser page of another origin may not change anything with the operator's credentials.
  403: problemResponse('A cross-origin request from a browser (Sec-Fetch-Site other than same-origin, or an Origin of another host)'),
  404: problemResponse('No such outbox row'),
  409: problemResponse('The row is not in a state this action applies to'),
  ...BODY_REFUSALS,
  503: unavailable(dependencies),
});

const replayRoute = createRoute({
  method: 'post',
  path: '/admin/outbox/{id}/replay',
  operationId: 'replayOutboxEvent',
  summary: 'Publish one event again (consumers dedupe it)',
  security,
  request: { params: IdParams },
  // Replaying asks Redis for the event's jobs (to remove finished ones).
  responses: actionResponses('Postgres or Redis'),
});
const requeueRoute = createRoute({
  method: 'post',
  path: '/admin/outbox/{id}/requeue',
  operationId: 'requeueOutboxRow',
  summary: 'Bring a dead row back with fresh attempts',
  security,
  request: { params: IdParams },
  responses: actionResponses('Postgres'),
});

export function registerAdminOutboxRoutes(app: OpenAPIHono, ops: OutboxOperations, log: Logger): void {
  app.openapi(listRoute, async (c) => {
    const { state, limit = 100 } = c.req.valid('query');
    const rows = await ops.list(state, limit);
    return c.json(
      {
        rows: rows.map((r) => ({
          id: r.id,
          aggregate_id: r.aggregate_id,
          event_type: r.event_type,
          created_at: r.created_at.toISOString(),
          age_seconds: Math.round(r.age_seconds * 1000) / 1000,
          attempts: r.attempts,
          last_error: r.last_error,
          dead_at: r.dead_at?.toISOString() ?? null,
        })),
      },
      200,
    );
  });

  app.openapi(replayRoute, async (c) => {
    const { id } = c.req.valid('param');
    const result = await ops.replay(id);
    audit(log, c, 'outbox.replay', { outbox_id: id }, { outcome: result.outcome });
    switch (result.outcome) {
      case 'replayed':
        return c.json({ outcome: 'replayed', removed_jobs: result.removedJobs }, 202);
      case 'not_found':
        throw new ProblemError(404, 'Not found', 'No outbox row has this id.');
      case 'dead':
        throw new ProblemError(409, 'Row is dead', 'This row is dead: fix its cause, then POST /admin/outbox/:id/requeue.');
      case 'pending':
        throw new ProblemError(409, 'Row is still pending', `Nothing to replay: ${result.detail}.`);
    }
  });

  app.openapi(requeueRoute, async (c) => {
    const { id } = c.req.valid('param');
    const result = await ops.requeue(id);
    audit(log, c, 'outbox.requeue', { outbox_id: id }, { outcome: result.outcome });
    if (result.outcome === 'requeued') return c.json({ outcome: 'requeued' }, 202);
    if (result.outcome === 'not_found') throw new ProblemError(404, 'Not found', 'No outbox row has this id.');
    throw new ProblemError(409, 'Row is not dead', 'Only dead rows can be requeued; to publish a live row again, use replay.');
  });
}
