// POST /orders, POST /pizza, GET /orders/:id, GET /orders.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { OrderDetails, OrderRow, PlacedOrder } from '../../db/orders.ts';
import type { EventHeaders } from '../../engine/index.ts';
import { traceIdOf } from '../../tracing.ts';
import type { OrderStore } from '../order-store.ts';
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
  ProblemSchema,
  pizzaToOrder,
  type CreateOrderInput,
} from '../schemas.ts';
import { requestHash } from '../idempotency.ts';
import { eventHeadersFor } from '../trace.ts';
import { ProblemError } from '../problem.ts';
import type { Context } from 'hono';

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });
const created = { description: 'The order, stored with its order.created event', content: { 'application/json': { schema: OrderSchema } } };
const badInput = {
  400: problemResponse('Malformed JSON or a field that is wrong (see `errors`)'),
  409: problemResponse('A request with this Idempotency-Key is still running'),
  422: problemResponse('This Idempotency-Key was used with a different request'),
  413: problemResponse('Body too large'),
  415: problemResponse('Content-Type is not application/json'),
  503: problemResponse('Postgres is unavailable; retry later'),
};

const createOrderRoute = createRoute({
  method: 'post',
  path: '/orders',
  summary: 'Place an order',
  request: { headers: IdempotencyHeadersSchema, body: { required: true, content: { 'application/json': { schema: CreateOrderSchema } } } },
  responses: { 201: created, ...badInput },
});

const createPizzaRoute = createRoute({
  method: 'post',
  path: '/pizza',
  summary: 'Place an order with the original pizza example body',
  request: { headers: IdempotencyHeadersSchema, body: { required: true, content: { 'application/json': { schema: PizzaSchema } } } },
  responses: { 201: created, ...badInput },
});

const getOrderRoute = createRoute({
  method: 'get',
  path: '/orders/{id}',
  summary: 'An order with its payment, delivery and invoice',
  request: { params: OrderIdParamSchema },
  responses: {
    200: { description: 'The order', content: { 'application/json': { schema: OrderSchema } } },
    400: problemResponse('The id is not a UUID'),
    404: problemResponse('No such order'),
  },
});

const listOrdersRoute = createRoute({
  method: 'get',
  path: '/orders',
  summary: 'Orders, newest first, one page at a time',
  description:
    `At most ${MAX_PAGE_SIZE} orders a page (\`limit\`, ${DEFAULT_PAGE_SIZE} by default). An order holds at most ${MAX_ITEMS_PER_ORDER} items, ` +
    `a customer name of ${TEXT_CAPS.customer_name}, an address of ${TEXT_CAPS.address} and flavors of ${TEXT_CAPS.flavor} characters, ` +
    `so one page is at most ${LIST_RESPONSE_MAX_BYTES.toLocaleString('en')} bytes even with every string at its cap and escaped in full; ` +
    'a page of 50 one-pizza orders is about 15 KB.',
  request: { query: ListOrdersQuerySchema },
  responses: {
    200: { description: 'One page; pass next_cursor as cursor for the next', content: { 'application/json': { schema: OrderPageSchema } } },
    400: problemResponse('A query parameter is wrong'),
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

export function registerOrderRoutes(app: OpenAPIHono, store: OrderStore, log: Logger): void {
  const placed = (order: PlacedOrder, headers: EventHeaders, replayed = false) =>
    log.info({ order_id: order.id, outbox_id: order.event_id, trace_id: traceIdOf(headers.traceparent), total_cents: order.total_cents, replayed }, 'order placed');

  const place = async (c: Context, input: CreateOrderInput, key: string | undefined) => {
    const headers = eventHeadersFor(c.req.header('traceparent'), c.req.header('x-request-id'));
    const created = (order: OrderRow) => ({ status: 201, body: orderDetailsJson({ ...order, payment: null, delivery: null, invoice: null }) });
    if (key === undefined) {
      const order = await store.place(input, headers);
      placed(order, headers);
      c.header('location', `/orders/${order.id}`);
      return c.json(created(order).body, 201);
    }

    const claim = await store.claimKey(key, requestHash(c.req.path, input));
    switch (claim.kind) {
      case 'replay': {
        const body = claim.body as { id?: string };
        if (body.id) c.header('location', `/orders/${body.id}`);
        c.header('idempotent-replayed', 'true');
        return c.json(claim.body as object, claim.status as 201);
      }
      case 'mismatch':
        throw new ProblemError(422, 'Idempotency-Key reused', 'This Idempotency-Key was used with a different request; use a new key for a new order.');
      case 'in_progress':
        throw new ProblemError(409, 'Request in progress', 'A request with this Idempotency-Key is still running; retry in a moment to get its response.', { 'retry-after': '1' });
      case 'owned':
        break;
    }
    try {
      const order = await store.place(input, headers, { key, respond: created });
      placed(order, headers);
      c.header('location', `/orders/${order.id}`);
      return c.json(created(order).body, 201);
    } catch (err) {
      await store.releaseKey(key).catch(() => {}); // let the client retry with the same key
      throw err;
    }
  };

  app.openapi(createOrderRoute, (c) => place(c, c.req.valid('json'), c.req.valid('header')['idempotency-key']));
  app.openapi(createPizzaRoute, (c) => place(c, pizzaToOrder(c.req.valid('json')), c.req.valid('header')['idempotency-key']));

  app.openapi(getOrderRoute, async (c) => {
    const order = await store.find(c.req.valid('param').id);
    if (!order) throw new ProblemError(404, 'Order not found', 'No order has this id; list orders with GET /orders.');
    return c.json(orderDetailsJson(order), 200);
  });

  app.openapi(listOrdersRoute, async (c) => {
    const { status, limit = DEFAULT_PAGE_SIZE, cursor } = c.req.valid('query');
    const rows = await store.list({ status, limit, cursor });
    const next = rows.length === limit ? rows[rows.length - 1]!.id : null;
    return c.json({ orders: rows.map(orderJson), next_cursor: next }, 200);
  });
}
