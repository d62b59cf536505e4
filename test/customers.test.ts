// Customers and who reads what (issue 11), through the real server: sign-up with its event through
// the outbox, login, token expiry and logout; every row of the access table (GET /orders,
// GET /orders/:id, POST /orders and /pizza, without credentials, with a customer token, as staff);
// and prices from the menu.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/api/passwords.ts';
import { DEMO_MENU } from '../src/demo/mix.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { newCustomer, PIZZA, postJson, staffHeaders, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;
const ORDER = { customer_name: 'Carla', address: '5 Owner St', items: [{ flavor: 'Margherita', size: 'small', quantity: 1, unit_price_cents: 900 }] };

beforeAll(async () => {
  // MENU_CACHE_TTL_MS=0: a price changed in the table applies to the next order.
  ctx = await createTestContext({ MENU_CACHE_TTL_MS: '0', CUSTOMER_TOKEN_TTL_S: '3600' });
  system = await startSystem(ctx, ['api', 'relay']);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${system.url}${path}`, { headers });
const sha256 = (s: string) => createHash('sha256').update(s).digest();
type Placed = { id: string; access_token?: string; total_cents: number };
const place = async (path: '/orders' | '/pizza', headers: Record<string, string> = {}) => {
  const res = await postJson(`${system.url}${path}`, path === '/pizza' ? PIZZA : ORDER, headers);
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Placed;
};
async function problemPaths(res: Response) {
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  return ((await res.json()) as { errors?: Array<{ path: string }> }).errors?.map((e) => e.path);
}

describe('POST /users', () => {
  it('creates a customer (201 with its id), its password scrypt-hashed, and customer.created through the outbox', async () => {
    const res = await postJson(`${system.url}/users`, { email: 'Dora@Example.com', password: 'a long enough passphrase' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; email: string };
    expect(body).toMatchObject({ id: expect.any(String), email: 'dora@example.com' });
    const [row] = await ctx.sql<{ password_hash: string }[]>`SELECT password_hash FROM customers WHERE id = ${body.id}`;
    expect(row!.password_hash).toMatch(/^scrypt\$/);
    expect(row!.password_hash).not.toContain('passphrase');
    expect(await verifyPassword('a long enough passphrase', row!.password_hash)).toBe(true);
    // Its event, with the customer as aggregate, published by the relay though routed nowhere.
    const event = await waitFor('customer.created to be published', async () => {
      const [e] = await ctx.sql<{ aggregate_type: string; published_at: Date | null; payload: unknown }[]>`
        SELECT aggregate_type, published_at, payload FROM outbox WHERE event_type = 'customer.created' AND aggregate_id = ${body.id}`;
      return e?.published_at ? e : undefined;
    });
    expect(event).toMatchObject({ aggregate_type: 'customer', payload: { customer_id: body.id } });
  });

  it('answers 409 for an email that is taken, in any case', async () => {
    await newCustomer(system.url, 'erin@example.com');
    const again = await postJson(`${system.url}/users`, { email: 'ERIN@example.com', password: 'another long passphrase' });
    expect(again.status).toBe(409);
    expect(await ctx.sql`SELECT 1 FROM customers WHERE lower(email) = 'erin@example.com'`).toHaveLength(1);
  });

  it.each([
    ['a malformed email', { email: 'not-an-email', password: 'a long enough passphrase' }, 'email'],
    ['a short password', { email: 'f@example.com', password: 'short' }, 'password'],
    ['an over-long password', { email: 'f@example.com', password: 'x'.repeat(64) + 'y'.repeat(65) }, 'password'],
    ['a common password', { email: 'f@example.com', password: 'password123' }, 'password'],
    ['one character repeated', { email: 'f@example.com', password: 'aaaaaaaaaaaa' }, 'password'],
    ['an unknown field', { email: 'f@example.com', password: 'a long enough passphrase', admin: true }, 'admin'],
  ])('refuses %s with a 400 naming the field', async (_, body, field) => {
    const res = await postJson(`${system.url}/users`, body);
    expect(res.status).toBe(400);
    expect(await problemPaths(res)).toContain(field);
    expect(await ctx.sql`SELECT 1 FROM customers WHERE email = 'f@example.com'`).toHaveLength(0);
  });
});

describe('customer tokens', () => {
  it('are opaque, stored as their SHA-256 only, and expire', async () => {
    const c = await newCustomer(system.url);
    expect(c.token).toMatch(/^cst_[\w-]{43}$/);
    const [row] = await ctx.sql<{ token_hash: Buffer; ttl: number }[]>`
      SELECT token_hash, extract(epoch FROM expires_at - created_at)::int AS ttl FROM customer_tokens WHERE customer_id = ${c.id}`;
    expect(row!.token_hash.equals(sha256(c.token))).toBe(true);
    expect(row!.ttl).toBe(3600); // CUSTOMER_TOKEN_TTL_S
    expect((await get('/orders', c.headers)).status).toBe(200);
    // The token's time passes.
    await ctx.sql`UPDATE customer_tokens SET expires_at = now() - interval '1 second' WHERE customer_id = ${c.id}`;
    const expired = await get('/orders', c.headers);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    // Nor can it place an order: a bad customer token is never taken as anonymous.
    expect((await postJson(`${system.url}/orders`, ORDER, c.headers)).status).toBe(401);
  });

  it('stop working at logout', async () => {
    const c = await newCustomer(system.url);
    expect((await postJson(`${system.url}/users/logout`, {}, c.headers)).status).toBe(204);
    expect((await get('/orders', c.headers)).status).toBe(401);
    expect((await postJson(`${system.url}/users/logout`, {}, c.headers)).status).toBe(401);
    expect(await ctx.sql`SELECT 1 FROM customer_tokens WHERE customer_id = ${c.id}`).toHaveLength(0);
  });

  it('are refused for a wrong password or an unknown email, alike', async () => {
    const c = await newCustomer(system.url);
    const wrong = await postJson(`${system.url}/users/login`, { email: c.email, password: 'not the passphrase' });
    const unknown = await postJson(`${system.url}/users/login`, { email: 'nobody@example.com', password: 'not the passphrase' });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(((await wrong.json()) as { detail: string }).detail).toBe(((await unknown.json()) as { detail: string }).detail);
  });
});

describe('who reads what', () => {
  let ann: Awaited<ReturnType<typeof newCustomer>>;
  let bob: Awaited<ReturnType<typeof newCustomer>>;
  let staff: Record<string, string>;
  let annOrder: Placed;
  let bobOrder: Placed;
  let anonymous: Placed;
  let anonymousPizza: Placed;
  let staffOrder: Placed;

  beforeAll(async () => {
    [ann, bob] = [await newCustomer(system.url), await newCustomer(system.url)];
    staff = staffHeaders(system);
    annOrder = await place('/orders', ann.headers);
    await place('/pizza', ann.headers);
    bobOrder = await place('/pizza', bob.headers);
    anonymous = await place('/orders');
    anonymousPizza = await place('/pizza');
    staffOrder = await place('/orders', staff);
  });

  it('POST without credentials: 201 with a one-time access token, of which only the hash is stored', async () => {
    for (const order of [anonymous, anonymousPizza, staffOrder]) {
      expect(order.access_token).toMatch(/^ord_[\w-]{43}$/);
      const [row] = await ctx.sql<{ customer_id: string | null; access_token_hash: Buffer }[]>`SELECT customer_id, access_token_hash FROM orders WHERE id = ${order.id}`;
      expect(row!.customer_id).toBeNull();
      expect(row!.access_token_hash.equals(sha256(order.access_token!))).toBe(true);
    }
    // The seed's exact /pizza body: 201 with total_cents 3998.
    expect(anonymousPizza.total_cents).toBe(3998);
  });

  it('POST with a customer token: 201, the order is theirs, no access token', async () => {
    expect(annOrder.access_token).toBeUndefined();
    const [row] = await ctx.sql<{ customer_id: string }[]>`SELECT customer_id FROM orders WHERE id = ${annOrder.id}`;
    expect(row!.customer_id).toBe(ann.id);
  });

  it('GET /orders: 401 without credentials, own orders with a customer token, all for staff', async () => {
    const none = await get('/orders');
    expect(none.status).toBe(401);
    const ids = async (headers: Record<string, string>) => {
      const res = await get('/orders?limit=50', headers);
      expect(res.status).toBe(200);
      return ((await res.json()) as { orders: Array<{ id: string }> }).orders.map((o) => o.id);
    };
    const annSees = await ids(ann.headers);
    expect(annSees).toHaveLength(2);
    expect(annSees).toContain(annOrder.id);
    expect(await ids(bob.headers)).toEqual([bobOrder.id]);
    expect(await ids(staff)).toEqual(expect.arrayContaining([annOrder.id, bobOrder.id, anonymous.id, anonymousPizza.id, staffOrder.id]));
    // Wrong staff credentials are a 401, not a look at anything.
    expect((await get('/orders', staffHeaders({ adminPassword: 'wrong password' }))).status).toBe(401);
  });

  it("GET /orders/:id: 404 without credentials unless the order's access token is given", async () => {
    expect((await get(`/orders/${anonymous.id}`)).status).toBe(404);
    expect((await get(`/orders/${anonymous.id}`, { authorization: `Bearer ${anonymous.access_token}` })).status).toBe(200);
    // Another order's token, or a made-up one, reads nothing.
    expect((await get(`/orders/${anonymous.id}`, { authorization: `Bearer ${anonymousPizza.access_token}` })).status).toBe(404);
    expect((await get(`/orders/${anonymous.id}`, { authorization: 'Bearer ord_made-up' })).status).toBe(404);
    // A customer's order has no access token: it is theirs alone.
    expect((await get(`/orders/${annOrder.id}`, { authorization: `Bearer ${anonymous.access_token}` })).status).toBe(404);
  });

  it("GET /orders/:id: own order 200 with a customer token, another's 404 (not 403), staff 200", async () => {
    const own = await get(`/orders/${annOrder.id}`, ann.headers);
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ id: annOrder.id });
    const others = await get(`/orders/${bobOrder.id}`, ann.headers);
    expect(others.status).toBe(404);
    const missing = await get(`/orders/${crypto.randomUUID()}`, ann.headers);
    // The same answer as for an order that does not exist: existence is not revealed.
    expect(await others.json()).toEqual(await missing.json());
    expect((await get(`/orders/${anonymous.id}`, ann.headers)).status).toBe(404);
    for (const id of [annOrder.id, bobOrder.id, anonymous.id]) expect((await get(`/orders/${id}`, staff)).status).toBe(200);
  });
});

describe('prices from the menu', () => {
  it('GET /menu lists every flavor and size with its price, as the demo prices them', async () => {
    const res = await get('/menu');
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Array<{ flavor: string; size: 'small' | 'medium' | 'large'; price_cents: number }> };
    expect(items).toContainEqual({ flavor: 'Pepperoni', size: 'large', price_cents: 1999 });
    const asDemo: Record<string, Record<string, number>> = {};
    for (const i of items) asDemo[i.flavor] = { ...asDemo[i.flavor], [i.size]: i.price_cents };
    expect(asDemo).toEqual(DEMO_MENU);
  });

  it('prices an order on the server: no price given is the menu price, any other is a 422 naming the item', async () => {
    const free = await postJson(`${system.url}/orders`, { ...ORDER, items: [{ flavor: 'pepperoni', size: 'large', quantity: 3 }] });
    expect(free.status).toBe(201);
    expect(await free.json()).toMatchObject({ total_cents: 3 * 1999, items: [{ flavor: 'Pepperoni', unit_price_cents: 1999 }] });
    const items = [ORDER.items[0], { flavor: 'Pepperoni', size: 'large', quantity: 100, unit_price_cents: 1 }];
    const cheap = await postJson(`${system.url}/orders`, { ...ORDER, customer_name: 'Cheapskate', items });
    expect(cheap.status).toBe(422);
    expect(await problemPaths(cheap)).toEqual(['items[1].unit_price_cents']);
    const unknown = await postJson(`${system.url}/orders`, { ...ORDER, customer_name: 'Cheapskate', items: [{ flavor: 'Calzone', size: 'small', quantity: 1 }] });
    expect(unknown.status).toBe(422);
    expect(await problemPaths(unknown)).toEqual(['items[0].flavor']);
    expect(await ctx.sql`SELECT 1 FROM orders WHERE customer_name = 'Cheapskate'`).toHaveLength(0);
  });

  it("refuses a /pizza price other than the menu's with a 422 naming price, and an unknown flavor naming flavor", async () => {
    const cheap = await postJson(`${system.url}/pizza`, { ...PIZZA, quantity: 100, price: 0.01, user_name: 'Cheapskate' });
    expect(cheap.status).toBe(422);
    expect(await problemPaths(cheap)).toEqual(['price']);
    const unknown = await postJson(`${system.url}/pizza`, { ...PIZZA, flavor: 'Calzone', user_name: 'Cheapskate' });
    expect(unknown.status).toBe(422);
    expect(await problemPaths(unknown)).toEqual(['flavor']);
    expect(await ctx.sql`SELECT 1 FROM orders WHERE customer_name = 'Cheapskate'`).toHaveLength(0);
  });

  it('takes the price the menu table has now', async () => {
    await ctx.sql`UPDATE menu SET price_cents = 2099 WHERE flavor = 'Pepperoni' AND size = 'large'`;
    try {
      expect((await postJson(`${system.url}/pizza`, PIZZA)).status).toBe(422);
      const res = await postJson(`${system.url}/pizza`, { ...PIZZA, price: 20.99 });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { total_cents: number }).total_cents).toBe(4198);
    } finally {
      await ctx.sql`UPDATE menu SET price_cents = 1999 WHERE flavor = 'Pepperoni' AND size = 'large'`;
    }
  });
});

describe('the OpenAPI document', () => {
  it('declares the security schemes per operation and the refusals of the routes', async () => {
    const doc = (await (await get('/openapi.json')).json()) as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, { security?: Array<Record<string, string[]>>; responses: Record<string, unknown> }>>;
    };
    expect(doc.components.securitySchemes).toMatchObject({
      basicAuth: { type: 'http', scheme: 'basic' },
      customerBearer: { type: 'http', scheme: 'bearer' },
      orderAccessToken: { type: 'http', scheme: 'bearer' },
    });
    const list = doc.paths['/orders']!.get!;
    expect(list.security).toEqual([{ customerBearer: [] }, { basicAuth: [] }]);
    expect(Object.keys(list.responses)).toContain('401');
    expect(doc.paths['/orders/{id}']!.get!.security).toContainEqual({ orderAccessToken: [] });
    expect(Object.keys(doc.paths['/orders/{id}']!.get!.responses)).toEqual(expect.arrayContaining(['401', '404']));
    expect(Object.keys(doc.paths['/orders']!.post!.responses)).toEqual(expect.arrayContaining(['401', '409', '422']));
    expect(doc.paths['/orders']!.post!.security).toContainEqual({});
    expect(Object.keys(doc.paths['/users']!.post!.responses)).toEqual(expect.arrayContaining(['201', '400', '409']));
    expect(doc.paths['/users/logout']!.post!.security).toEqual([{ customerBearer: [] }]);
  });
});
