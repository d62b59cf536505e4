// POST /orders, POST /pizza, GET /orders/:id, GET /orders. Who reads what (issue 11):
//   GET /orders       nobody: 401; a customer: their own orders; staff (Basic): all.
//   GET /orders/:id   a customer: their own (another's is a 404); staff: any; anyone else: only
//                     with the order's access token as Bearer. 404, never 403: an order that is
//                     not yours does not exist for you.
//   POST              anyone; a customer's order is theirs, any other carries a one-time access token.
// Prices come from the menu: the client names entries, the server prices them and sums the total.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { OrderDetails, OrderRow, PlacedOrder } from '../../db/orders.ts';
import type { EventHeaders } from '../../engine/index.ts';
import { traceIdOf } from '../../tracing.ts';
import { requestHash } from '../idempotency.ts';
import { priceItems } from '../menu.ts';
import { callerOf, newToken, ORDER_TOKEN_PREFIX, tokenHash, type Caller } from '../middleware/customer-auth.ts';
import type { OrderStore, OrderToPlace } from '../order-store.ts';
import { ProblemError, type FieldError } from '../problem.ts';
import {
  CreateOrderSchema,
  DEFAULT_PAGE_SIZE,
  LIST_RESPONSE_MAX_BYTES,
  MAX_ITEMS_PER_ORDER,
  MAX_PAGE_SIZE,
  TEXT_CAPS,
  IdempotencyHeadersSchema,
  ListOrdersQuerySchema,
  OrderIdParamSchema,
  OrderPageSchema,
  OrderSchema,
  PizzaSchema,
  pizzaToOrder,
  type CreateOrderInput,
} from '../schemas.ts';
import { eventHeadersFor } from '../trace.ts';
import { BODY_REFUSALS, IDEMPOTENT_REPLAYED, keyInUse, LOCATION, problemResponse, RATE_LIMIT, tooManyRequests, unauthorized, unavailable } from './responses.ts';

const created = {
  description: 'The order, stored with its order.created event; without a customer token it carries its one-time `access_token`',
  headers: { ...LOCATION, ...IDEMPOTENT_REPLAYED, ...RATE_LIMIT },
  content: { 'application/json': { schema: OrderSchema } },
};
const callerRefused = unauthorized(
  'An Authorization header that is not accepted: a customer token that is unknown, expired or logged out, a malformed one, or wrong staff credentials',
  'caller',
);
const badInput = {
  400: problemResponse('Malformed JSON, a body that is not UTF-8, a malformed Idempotency-Key, or a field that is wrong (see `errors`)'),
  401: callerRefused,
  409: keyInUse,
  413: BODY_REFUSALS[413],
  415: BODY_REFUSALS[415],
  422: problemResponse('An item that is not on the menu or states another price (see `errors`), or an Idempotency-Key used with a different request'),
  429: tooManyRequests('ORDER_RATE_LIMIT_PER_MINUTE orders (POST /orders and /pizza together)'),
  // src/api/idempotency.ts: a keyed order's transaction is cancelled before the 503, an unkeyed one may have committed.
  503: unavailable('Postgres', 'With an Idempotency-Key nothing was stored: retry with the same key. Without one the order may have been stored.'),
};
// Per operation: who may call it (an empty entry: without credentials).
type Security = Array<Record<string, string[]>>;
const anyCaller: Security = [{}, { customerBearer: [] }, { basicAuth: [] }];
const listers: Security = [{ customerBearer: [] }, { basicAuth: [] }];
const readers: Security = [{ customerBearer: [] }, { orderAccessToken: [] }, { basicAuth: [] }];

const createOrderRoute = createRoute({
  method: 'post',
  path: '/orders',
  operationId: 'placeOrder',
  summary: 'Place an order',
  description: 'Items name menu entries (GET /menu); prices and the total come from the menu. With a customer token the order is theirs.',
  security: anyCaller,
  request: { headers: IdempotencyHeadersSchema, body: { required: true, content: { 'application/json': { schema: CreateOrderSchema } } } },
  responses: { 201: created, ...badInput },
});

const createPizzaRoute = createRoute({
  method: 'post',
  path: '/pizza',
  operationId: 'placePizzaOrder',
  summary: 'Place an order with the original pizza example body',
  description: "`price` (dollars) must be the menu's price of that flavor and size.",
  security: anyCaller,
  request: { headers: IdempotencyHeadersSchema, body: { required: true, content: { 'application/json': { schema: PizzaSchema } } } },
  responses: { 201: created, ...badInput },
});

const getOrderRoute = createRoute({
  method: 'get',
  path: '/orders/{id}',
  operationId: 'getOrder',
  summary: 'An order with its payment, delivery and invoice',
  description: "The customer's own order, any order for staff, or the order whose access token is given as Bearer; 404 for anything else.",
  security: readers,
  request: { params: OrderIdParamSchema },
  responses: {
    200: { description: 'The order', content: { 'application/json': { schema: OrderSchema } } },
    400: problemResponse('The id is not a UUID'),
    401: callerRefused,
    404: problemResponse('No such order, or not one these credentials may read'),
    429: tooManyRequests(),
    503: unavailable(),
  },
});

const listOrdersRoute = createRoute({
  method: 'get',
  path: '/orders',
  operationId: 'listOrders',
  summary: 'Orders, newest first, one page at a time',
  description:
    'A customer sees their own orders, staff see all. ' +
    `At most ${MAX_PAGE_SIZE} orders a page (\`limit\`, ${DEFAULT_PAGE_SIZE} by default). An order holds at most ${MAX_ITEMS_PER_ORDER} items, ` +
    `a customer name of ${TEXT_CAPS.customer_name}, an address of ${TEXT_CAPS.address} and flavors of ${TEXT_CAPS.flavor} characters, ` +
    `so one page is at most ${LIST_RESPONSE_MAX_BYTES.toLocaleString('en')} bytes even with every string at its cap and escaped in full; ` +
    'a page of 50 one-pizza orders is about 15 KB.',
  security: listers,
  request: { query: ListOrdersQuerySchema },
  responses: {
    200: {
      description: 'One page; pass next_cursor as cursor for the next',
      headers: RATE_LIMIT,
      content: { 'application/json': { schema: OrderPageSchema } },
    },
    400: problemResponse('A query parameter is wrong'),
    401: unauthorized('No credentials, or wrong ones: a customer token or staff Basic is needed', 'caller'),
    429: tooManyRequests('LIST_RATE_LIMIT_PER_MINUTE lists'),
    503: unavailable(),
  },
});

function orderJson(row: OrderRow) {
  return {
    id: row.id,
    customer_name: row.customer_name,
    address: row.address,
    items: row.items,
    total_cents: row.total_cents,
    status: row.status,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function orderDetailsJson(row: OrderDetails) {
  return { ...orderJson(row), payment: row.payment, delivery: row.delivery, invoice: row.invoice };
}

// The caller's own space of Idempotency-Keys.
function keyScope(caller: Caller): string {
  if (caller.kind === 'customer') return `customer:${caller.customerId}`;
  return caller.kind === 'staff' ? 'staff' : 'anonymous';
}

// May this caller read this order?
function mayRead(caller: Caller, order: OrderRow): boolean {
  if (caller.kind === 'staff') return true;
  if (caller.kind === 'customer') return order.customer_id === caller.customerId;
  if (!caller.bearer?.startsWith(ORDER_TOKEN_PREFIX) || !order.access_token_hash) return false;
  return tokenHash(caller.bearer).equals(order.access_token_hash);
}

// /pizza's one item, named by its own fields.
const PIZZA_FIELDS: Record<string, string> = { 'items[0].flavor': 'flavor', 'items[0].size': 'size', 'items[0].unit_price_cents': 'price' };

export function registerOrderRoutes(app: OpenAPIHono, store: OrderStore, log: Logger): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'customerBearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A customer token (cst_…) from POST /users/login; it expires after CUSTOMER_TOKEN_TTL_S and POST /users/logout revokes it.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'orderAccessToken', {
    type: 'http',
    scheme: 'bearer',
    description: "An anonymous order's access_token (ord_…) from its 201: reads that one order.",
  });
  const placed = (order: PlacedOrder, headers: EventHeaders, replayed = false) =>
    log.info({ order_id: order.id, outbox_id: order.event_id, trace_id: traceIdOf(headers.traceparent), total_cents: order.total_cents, replayed }, 'order placed');

  // Prices the items from the menu; 422 naming each item that is not on it or states another price.
  const priced = async (input: CreateOrderInput, fieldNames?: Record<string, string>) => {
    const result = await priceItems(store.menu, input.items);
    if (!result.ok) {
      const errors: FieldError[] = result.errors.map((e) => ({ ...e, path: fieldNames?.[e.path] ?? e.path }));
      throw new ProblemError(422, 'Not on the menu', errors.map((e) => `${e.path}: ${e.message}`).join('; '), {}, errors);
    }
    return result;
  };

  const place = async (c: Context, input: CreateOrderInput, key: string | undefined, fieldNames?: Record<string, string>) => {
    const caller = callerOf(c);
    const { items, totalCents } = await priced(input, fieldNames);
    const access = caller.kind === 'customer' ? undefined : newToken(ORDER_TOKEN_PREFIX);
    const order: OrderToPlace = {
      customer_name: input.customer_name,
      address: input.address,
      items,
      total_cents: totalCents,
      customerId: caller.kind === 'customer' ? caller.customerId : undefined,
      accessTokenHash: access?.hash,
    };
    const headers = eventHeadersFor(c.req.header('traceparent'), c.req.header('x-request-id'));
    const body = (row: OrderRow) => ({
      ...orderDetailsJson({ ...row, payment: null, delivery: null, invoice: null }),
      ...(access ? { access_token: access.token } : {}),
    });
    if (key === undefined) {
      const row = await store.place(order, headers);
      placed(row, headers);
      c.header('location', `/orders/${row.id}`);
      return c.json(body(row), 201);
    }

    const keyed = { scope: keyScope(caller), key, hash: requestHash(c.req.path, input), respond: (row: OrderRow) => ({ status: 201, body: body(row) }) };
    const outcome = await store.placeKeyed(order, headers, keyed);
    switch (outcome.kind) {
      case 'done':
        placed(outcome.value, headers);
        c.header('location', `/orders/${outcome.value.id}`);
        return c.json(body(outcome.value), 201);
      case 'replay': {
        const stored = outcome.body as { id?: string };
        if (stored.id) c.header('location', `/orders/${stored.id}`);
        c.header('idempotent-replayed', 'true');
        return c.json(outcome.body as ReturnType<typeof body>, outcome.status as 201);
      }
      case 'mismatch':
        throw new ProblemError(422, 'Idempotency-Key reused', 'This Idempotency-Key was used with a different request; use a new key for a new order.');
      case 'busy':
        throw new ProblemError(409, 'Request in progress', 'A request with this Idempotency-Key is still running; retry in a moment to get its response.', { 'retry-after': '1' });
    }
  };

  app.openapi(createOrderRoute, (c) => place(c, c.req.valid('json'), c.req.valid('header')['idempotency-key']));
  app.openapi(createPizzaRoute, (c) => place(c, pizzaToOrder(c.req.valid('json')), c.req.valid('header')['idempotency-key'], PIZZA_FIELDS));

  app.openapi(getOrderRoute, async (c) => {
    const order = await store.find(c.req.valid('param').id);
    if (!order || !mayRead(callerOf(c), order)) throw new ProblemError(404, 'Order not found', 'No order with this id that these credentials may read.');
    return c.json(orderDetailsJson(order), 200);
  });

  app.openapi(listOrdersRoute, async (c) => {
    const caller = callerOf(c);
    if (caller.kind === 'anonymous') {
      c.header('WWW-Authenticate', 'Bearer, Basic realm="pizza-outbox admin", charset="UTF-8"');
      throw new ProblemError(401, 'Unauthorized', 'Log in: a customer token (POST /users/login) lists your orders, staff Basic lists all.');
    }
    const { status, limit = DEFAULT_PAGE_SIZE, cursor } = c.req.valid('query');
    const rows = await store.list({ status, limit, cursor, customerId: caller.kind === 'customer' ? caller.customerId : undefined });
    const next = rows.length === limit ? rows[rows.length - 1]!.id : null;
    return c.json({ orders: rows.map(orderJson), next_cursor: next }, 200);
  });
}
