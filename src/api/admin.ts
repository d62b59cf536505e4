// The admin area: Bull Board at /admin/queues and the outbox's dead letters at /admin/outbox. Bull Board has no auth of its own and its API can
// obliterate queues, so basic auth guards the whole /admin base path (page, assets and API).
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { basicAuth } from 'hono/basic-auth';
import type { OutboxOperations } from '../outbox-admin/operations.ts';
import type { Queues } from '../redis/queues.ts';
import { registerAdminOutboxRoutes } from './routes/admin-outbox.ts';

export const BOARD_PATH = '/admin/queues';

export function mountAdmin(app: OpenAPIHono, opts: { user: string; password: string; queues: Queues; outbox: OutboxOperations }): void {
  const guard = basicAuth({ username: opts.user, password: opts.password, realm: 'pizza-outbox admin' });
  app.use('/admin', guard);
  app.use('/admin/*', guard);

  const board = new HonoAdapter(serveStatic);
  board.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: Object.values(opts.queues).map((q) => new BullMQAdapter(q)),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Pizza outbox' } },
  });
  app.get(`${BOARD_PATH}/`, (c) => c.redirect(BOARD_PATH)); // the board answers 404 with a trailing slash
  app.route(BOARD_PATH, board.registerPlugin());
  registerAdminOutboxRoutes(app, opts.outbox);
}
