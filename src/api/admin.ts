// The admin area: Bull Board at /admin/queues and the outbox's dead letters at /admin/outbox. Bull Board has no auth of its own and its API can
// obliterate queues, so basic auth guards the whole /admin base path (page, assets and API). The
// board's page runs under a strict Content-Security-Policy with self-hosted fonts (board-page.ts).
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { basicAuth } from 'hono/basic-auth';
import type { OutboxOperations } from '../outbox-admin/operations.ts';
import type { Queues } from '../redis/queues.ts';
import { boardPage } from './middleware/board-page.ts';
import { registerAdminOutboxRoutes } from './routes/admin-outbox.ts';

export const BOARD_PATH = '/admin/queues';
export const ADMIN_ASSETS_PATH = '/admin/assets';

export function mountAdmin(app: OpenAPIHono, opts: { user: string; password: string; queues: Queues; outbox: OutboxOperations }): void {
  const guard = basicAuth({ username: opts.user, password: opts.password, realm: 'pizza-outbox admin' });
  app.use('/admin', guard);
  app.use('/admin/*', guard);

  const page = boardPage(ADMIN_ASSETS_PATH);
  for (const asset of page.assets) app.get(asset.path, asset.handler);
  app.use(BOARD_PATH, page.middleware);
  app.use(`${BOARD_PATH}/*`, page.middleware);

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
  registerAdminOutboxRoutes(app, opts.outbox);
}
