// GET /menu: every flavor and size the shop sells, with its price in cents. Orders name these.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Menu } from '../menu.ts';
import { MenuSchema } from '../schemas.ts';
import { unavailable } from './responses.ts';

const menuRoute = createRoute({
  method: 'get',
  path: '/menu',
  operationId: 'getMenu',
  summary: 'The menu: flavors, sizes and prices (cents)',
  security: [{}],
  // Read from Postgres (cached for MENU_CACHE_TTL_MS).
  responses: { 200: { description: 'The menu', content: { 'application/json': { schema: MenuSchema } } }, 503: unavailable() },
});

export function registerMenuRoutes(app: OpenAPIHono, menu: Menu): void {
  app.openapi(menuRoute, async (c) => c.json({ items: await menu.entries() }, 200));
}
