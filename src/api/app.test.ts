// The HTTP layer through app.request(): validation, error shapes and status codes, with an
// in-memory order store (storage is covered by the integration tests in test/).
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import type { OrderDetails, OrderRow, PlacedOrder } from '../db/orders.ts';
import { createApiApp, MAX_BODY_BYTES } from './app.ts';
import { createMenu } from './menu.ts';
import type { OrderStore, OrderToPlace } from './order-store.ts';

const PIZZA = { flavor: 'Pepperoni', size: 'Large', quantity: 2, price: 19.99, address: '123 Main St', user_name: 'Alice' };
const ORDER = { customer_name: 'Bob', address: '1 Side St', items: [{ flavor: 'Margherita', size: 'small', quantity: 1, unit_price_cents: 900 }] };
const MENU = [
  { flavor: 'Pepperoni', size: 'large', price_cents: 1999 },
  { flavor: 'Margherita', size: 'small', price_cents: 900 },
  { flavor: 'Hawaii', size: 'large', price_cents: 1600 },
] as const;

function memoryStore() {
  const placed: OrderRow[] = [];
  // By `${scope}\n${key}`.
  const keys = new Map<string, { hash: string; status?: number; body?: unknown }>();
  const store: OrderStore = {
    menu: createMenu(async () => [...MENU], 60_000),
    async place(order: OrderToPlace) {
      const now = new Date();
      const row: PlacedOrder = {
        id: crypto.randomUUID(),
        event_id: crypto.randomUUID(),
        customer_name: order.customer_name,
        address: order.address,
        items: order.items,
        total_cents: order.total_cents,
        customer_id: order.customerId ?? null,
        access_token_hash: order.accessTokenHash ?? null,
        status: 'pending_payment',
        created_at: now,
        updated_at: now,
      };
      placed.push(row);
      return row;
    },
    async placeKeyed(order, headers, keyed) {
      const id = `${keyed.scope}\n${keyed.key}`;
      const stored = keys.get(id);
      if (stored) {
        if (stored.hash !== keyed.hash) return { kind: 'mismatch' };
        if (stored.status === undefined) return { kind: 'busy' };
        return { kind: 'replay', status: stored.status, body: stored.body };
      }
      const row = await store.place(order, headers); // a test that makes place fail stores no key
      keys.set(id, { hash: keyed.hash, ...keyed.respond(row) });
      return { kind: 'done', value: row };
    },
    async find(id) {
      const row = placed.find((o) => o.id === id);
      return row ? ({ ...row, payment: null, delivery: null, invoice: null } satisfies OrderDetails) : undefined;
    },
    async list({ limit }) {
      return placed.slice(0, limit);
    },
  };
  return { store, placed, keys };
}

function buildApp() {
  const { store, placed, keys } = memoryStore();
  const app = createApiApp({ store, health: { postgres: async () => {}, redis: async () => {} }, log: createLogger('silent', 'test') });
  return { app, placed, keys };
}

const post = (app: ReturnType<typeof buildApp>['app'], path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function problemOf(res: Response) {
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  return (await res.json()) as { status: number; title: string; errors?: Array<{ path: string; message: string }> };
}

describe('POST /pizza', () => {
  it('accepts the original example body and stores the price in cents', async () => {
    const { app, placed } = buildApp();
    const res = await post(app, '/pizza', PIZZA);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; total_cents: number; items: unknown[]; status: string };
    expect(body.total_cents).toBe(3998);
    expect(body.items).toEqual([{ flavor: 'Pepperoni', size: 'large', quantity: 2, unit_price_cents: 1999 }]);
    expect(body.status).toBe('pending_payment');
    expect(res.headers.get('location')).toBe(`/orders/${body.id}`);
    expect(placed).toHaveLength(1);
  });

  it.each([
    ['an extra key', { ...PIZZA, coupon: 'FREE' }, 'coupon'],
    ['a missing key', { ...PIZZA, user_name: undefined }, 'user_name'],
    ['a price with fractions of a cent', { ...PIZZA, price: 19.999 }, 'price'],
    ['a price as a string', { ...PIZZA, price: '19.99' }, 'price'],
    ['a quantity of zero', { ...PIZZA, quantity: 0 }, 'quantity'],
    ['a fractional quantity', { ...PIZZA, quantity: 1.5 }, 'quantity'],
    ['an unknown size', { ...PIZZA, size: 'Huge' }, 'size'],
    ['an empty name', { ...PIZZA, user_name: '   ' }, 'user_name'],
  ])('refuses %s with a 400 naming the field', async (_, body, field) => {
    const { app, placed } = buildApp();
    const res = await post(app, '/pizza', body);
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.errors?.map((e) => e.path)).toContain(field);
    expect(placed).toHaveLength(0);
  });
});

describe('POST /orders', () => {
  it('creates an order with the total of its items', async () => {
    const { app } = buildApp();
    const res = await post(app, '/orders', { ...ORDER, items: [...ORDER.items, { flavor: 'hawaii', size: 'large', quantity: 3 }] });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { total_cents: number; items: Array<{ flavor: string; unit_price_cents: number }> };
    expect(body.total_cents).toBe(900 + 4800);
    expect(body.items[1]).toMatchObject({ flavor: 'Hawaii', unit_price_cents: 1600 }); // the menu's name and price
  });

  it.each([
    ['another price', { ...ORDER, items: [{ ...ORDER.items[0], unit_price_cents: 1 }] }, 'items[0].unit_price_cents'],
    ['a flavor not on the menu', { ...ORDER, items: [{ ...ORDER.items[0], flavor: 'Calzone' }] }, 'items[0].flavor'],
    ['a size the flavor does not come in', { ...ORDER, items: [{ ...ORDER.items[0], size: 'large' }] }, 'items[0].size'],
  ])('refuses %s with a 422 naming the item', async (_, body, field) => {
    const { app, placed } = buildApp();
    const res = await post(app, '/orders', body);
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.path)).toEqual([field]);
    expect(placed).toHaveLength(0);
  });

  it("refuses a /pizza price other than the menu's with a 422 naming price", async () => {
    const { app, placed } = buildApp();
    const res = await post(app, '/pizza', { ...PIZZA, price: 0.01 });
    expect(res.status).toBe(422);
    expect((await problemOf(res)).errors?.map((e) => e.path)).toEqual(['price']);
    expect(placed).toHaveLength(0);
  });

  it.each([
    ['an unknown key inside an item', { ...ORDER, items: [{ ...ORDER.items[0], note: 'x' }] }, 'items[0].note'],
    ['money with a fraction of a cent', { ...ORDER, items: [{ ...ORDER.items[0], unit_price_cents: 9.5 }] }, 'items[0].unit_price_cents'],
    ['a number past MAX_SAFE_INTEGER', { ...ORDER, items: [{ ...ORDER.items[0], unit_price_cents: 2 ** 60 }] }, 'items[0].unit_price_cents'],
    ['a negative quantity', { ...ORDER, items: [{ ...ORDER.items[0], quantity: -1 }] }, 'items[0].quantity'],
    ['"10" for a number', { ...ORDER, items: [{ ...ORDER.items[0], quantity: '10' }] }, 'items[0].quantity'],
    ['no items', { ...ORDER, items: [] }, 'items'],
    ['a name that is too long', { ...ORDER, customer_name: 'x'.repeat(201) }, 'customer_name'],
  ])('refuses %s with a 400 naming the field', async (_, body, field) => {
    const { app, placed } = buildApp();
    const res = await post(app, '/orders', body);
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors?.map((e) => e.path)).toContain(field);
    expect(placed).toHaveLength(0);
  });

  it('refuses malformed JSON with a 400', async () => {
    const { app } = buildApp();
    const res = await post(app, '/orders', '{"customer_name": ');
    expect(res.status).toBe(400);
    await problemOf(res);
  });

  it('refuses a body that is not JSON with a 415', async () => {
    const { app, placed } = buildApp();
    const res = await app.request('/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(ORDER) });
    expect(res.status).toBe(415);
    await problemOf(res);
    expect(placed).toHaveLength(0);
  });

  it('refuses a body over the limit with a 413', async () => {
    const { app } = buildApp();
    const res = await post(app, '/orders', { ...ORDER, address: 'x'.repeat(MAX_BODY_BYTES) });
    expect(res.status).toBe(413);
    await problemOf(res);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first response for the same key and body', async () => {
    const { app, placed } = buildApp();
    const first = await post(app, '/pizza', PIZZA, { 'idempotency-key': 'k-1' });
    const second = await post(app, '/pizza', PIZZA, { 'idempotency-key': 'k-1' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.json()).toEqual(await first.json());
    expect(placed).toHaveLength(1);
  });

  it('answers 422 for the same key with another body, and 409 while the first is running', async () => {
    const { app, placed, keys } = buildApp();
    await post(app, '/pizza', PIZZA, { 'idempotency-key': 'k-2' });
    const other = await post(app, '/pizza', { ...PIZZA, quantity: 3 }, { 'idempotency-key': 'k-2' });
    expect(other.status).toBe(422);
    await problemOf(other);
    keys.set('anonymous\nk-3', { hash: 'whatever' });
    expect((await post(app, '/pizza', PIZZA, { 'idempotency-key': 'k-3' })).status).toBe(422);
    const store = keys.get('anonymous\nk-3')!;
    const { requestHash } = await import('./idempotency.ts');
    store.hash = requestHash('/pizza', { customer_name: 'Alice', address: '123 Main St', items: [{ flavor: 'Pepperoni', size: 'large', quantity: 2, unit_price_cents: 1999 }] });
    const running = await post(app, '/pizza', PIZZA, { 'idempotency-key': 'k-3' });
    expect(running.status).toBe(409);
    expect(running.headers.get('retry-after')).toBe('1');
    expect(placed).toHaveLength(1);
  });

  it('refuses a key with spaces or control characters', async () => {
    const { app } = buildApp();
    const res = await post(app, '/orders', ORDER, { 'idempotency-key': 'has space' });
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors?.[0]?.path).toBe('idempotency-key');
  });
});

describe('GET /orders', () => {
  it('answers 400 for an id that is not a UUID and 404 for an unknown one', async () => {
    const { app } = buildApp();
    expect((await app.request('/orders/not-a-uuid')).status).toBe(400);
    const res = await app.request(`/orders/${crypto.randomUUID()}`);
    expect(res.status).toBe(404);
    await problemOf(res);
  });

  it('returns an order it created', async () => {
    const { app } = buildApp();
    const created = (await (await post(app, '/pizza', PIZZA)).json()) as { id: string; access_token: string };
    expect((await app.request(`/orders/${created.id}`)).status).toBe(404); // without its access token
    const res = await app.request(`/orders/${created.id}`, { headers: { authorization: `Bearer ${created.access_token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: created.id, payment: null, delivery: null, invoice: null });
  });

  it.each(['0', '101', 'ten', '-1'])('refuses limit=%s', async (limit) => {
    const { app } = buildApp();
    const res = await app.request(`/orders?limit=${limit}`);
    expect(res.status).toBe(400);
    expect((await problemOf(res)).errors?.[0]?.path).toBe('limit');
  });

  it('refuses an unknown status', async () => {
    const { app } = buildApp();
    expect((await app.request('/orders?status=lost')).status).toBe(400);
  });
});

describe('errors', () => {
  it('answers unknown routes with a problem 404', async () => {
    const { app } = buildApp();
    const res = await app.request('/nope');
    expect(res.status).toBe(404);
    await problemOf(res);
  });

  it('frees the key when the order could not be stored, so a retry with it works', async () => {
    const { store, keys } = memoryStore();
    const place = store.place;
    let fail = true;
    store.place = async (...args) => {
      if (fail) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return place(...args);
    };
    const app = createApiApp({ store, health: { postgres: async () => {}, redis: async () => {} }, log: createLogger('silent', 'test') });
    expect((await post(app, '/pizza', PIZZA, { 'idempotency-key': 'k-4' })).status).toBe(503);
    expect(keys.has('anonymous\nk-4')).toBe(false);
    fail = false;
    expect((await post(app, '/pizza', PIZZA, { 'idempotency-key': 'k-4' })).status).toBe(201);
  });

  it('hides internals of unexpected errors', async () => {
    const { store } = memoryStore();
    store.place = async () => {
      throw Object.assign(new Error('syntax error at or near "SELEC"'), { query: 'SELEC 1', parameters: ['secret'] });
    };
    const app = createApiApp({ store, health: { postgres: async () => {}, redis: async () => {} }, log: createLogger('silent', 'test') });
    const res = await post(app, '/pizza', PIZZA);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/SELEC|secret|at or near/);
  });

  it('answers 503 with Retry-After when Postgres is unreachable', async () => {
    const { store } = memoryStore();
    store.place = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    };
    const app = createApiApp({ store, health: { postgres: async () => {}, redis: async () => {} }, log: createLogger('silent', 'test') });
    const res = await post(app, '/pizza', PIZZA);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
  });
});

describe('health', () => {
  it('is ready only when both dependencies answer', async () => {
    const { store } = memoryStore();
    const app = createApiApp({
      store,
      health: { postgres: async () => {}, redis: async () => Promise.reject(new Error('ECONNREFUSED')) },
      log: createLogger('silent', 'test'),
    });
    expect((await app.request('/health/live')).status).toBe(200);
    const res = await app.request('/health/ready');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'unavailable', checks: { postgres: 'ok' } });
  });
});
