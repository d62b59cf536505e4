// The admin area: Bull Board at /admin/queues and the outbox's dead letters at /admin/outbox. Bull
// Board has no auth of its own and its API can obliterate queues; the app puts staff auth
// (throttled HTTP Basic, src/api/middleware/staff-auth.ts) and the same-origin check for
// state-changing requests (csrf.ts) in front of the whole /admin base path, page, assets and API.
// The board's page runs under a strict Content-Security-Policy with self-hosted fonts (board-page.ts).
// Every board request that changes a job or queue leaves an audit line (src/api/audit.ts).
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from 'pino';
import type { OutboxOperations } from '../outbox-admin/operations.ts';
import type { Queues } from '../redis/queues.ts';
import { audit } from './audit.ts';
import { boardPage } from './middleware/board-page.ts';
import { registerAdminOutboxRoutes } from './routes/admin-outbox.ts';

export const BOARD_PATH = '/admin/queues';
export const ADMIN_ASSETS_PATH = '/admin/assets';

export function mountAdmin(app: OpenAPIHono, opts: { queues: Queues; outbox: OutboxOperations; log: Logger }): void {
  const page = boardPage(ADMIN_ASSETS_PATH);
  for (const asset of page.assets) app.get(asset.path, asset.handler);
  app.use(BOARD_PATH, page.middleware);
  app.use(`${BOARD_PATH}/*`, page.middleware);
  app.use(`${BOARD_PATH}/api/*`, auditBoardActions(opts.log));

  const board = new HonoAdapter(serveStatic);
  board.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: Object.values(opts.queues).map((q) => new BullMQAdapter(q)),
    serverAdapter: board,
    options: { uiBasePath: page.uiBasePath, uiConfig: { boardTitle: 'Pizza outbox' } },
  });
  // Bull Board answers its own errors with their message (ioredis internals such as "Stream isn't
  // writeable…" while Redis is away); rethrown, they reach the app's error handler instead: a 503
  // problem naming Redis, or a bare 500, the detail in the log only.
  board.setErrorHandler((err) => {
    throw err;
  });
  app.get(`${BOARD_PATH}/`, (c) => c.redirect(BOARD_PATH)); // the board answers 404 with a trailing slash
  // @bull-board/hono loads Hono's CommonJS build, whose default error handler is not the app's (it
  // prints the stack and answers a bare 500), so the board's routes pass their errors on to it.
  const plugin = board.registerPlugin();
  plugin.onError((err) => {
    throw err;
  });
  app.route(BOARD_PATH, plugin);
  registerAdminOutboxRoutes(app, opts.outbox, opts.log);
}

// An audit line for each request of the board's API that is not a read (retry, promote, clean,
// remove, add, obliterate, pause/resume, update data, …), once answered. The action is the route's
// fixed words (`retry` for /api/queues/:queueName/:jobId/retry), the target its parameters; the
// route pattern and the answer's status go along. A job's data is not logged.
function auditBoardActions(log: Logger): MiddlewareHandler {
  const apiBase = `${BOARD_PATH}/api/`;
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    try {
      await next();
    } finally {
      const pattern = routePath(c);
      const matched = pattern.startsWith(apiBase) && pattern !== `${BOARD_PATH}/api/*`;
      const route = matched ? pattern.slice(apiBase.length) : c.req.path.slice(apiBase.length);
      const { action, target } = matched ? describeRoute(route, c.req.path.slice(apiBase.length)) : { action: 'unknown', target: {} };
      audit(log, c, `board.${action}`, target, { route: `${c.req.method} /api/${route}`, status: c.res.status });
    }
  };
}

// `queues/:queueName/:jobId/retry` against `queues/payments/42/retry`: action `retry`, target
// `{ queueName: 'payments', jobId: '42' }`.
export function describeRoute(pattern: string, path: string): { action: string; target: Record<string, string> } {
  const words: string[] = [];
  const target: Record<string, string> = {};
  const values = path.split('/');
  pattern.split('/').forEach((part, i) => {
    if (part.startsWith(':')) target[part.slice(1)] = safeDecode(values[i] ?? '');
    else if (i > 0 || part !== 'queues') words.push(part);
  });
  return { action: words.join('.') || 'queues', target };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
