// Per-client rate limits through the real server: past the limit a client gets 429 problem+json
// with Retry-After and the RateLimit headers and nothing is stored; two API instances share the
// count through Redis; another client is not affected; X-Forwarded-For picks the client only
// behind a trusted proxy hop; with Redis down the limit still holds, counted in the process.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startPrivateRedis, type PrivateRedis } from './faults/support/private-redis.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { newCustomer, PIZZA, postJson, staffHeaders, startSystem, type RunningSystem } from './support/system.ts';

const ORDER_LIMIT = 5;
const LIST_LIMIT = 3;
const AUTH_LIMIT = 2;
const ORDER = { customer_name: 'Rita', address: '1 Limit St', items: [{ flavor: 'Margherita', size: 'small', quantity: 1, unit_price_cents: 900 }] };
const LIMITS = { ORDER_RATE_LIMIT_PER_MINUTE: String(ORDER_LIMIT), LIST_RATE_LIMIT_PER_MINUTE: String(LIST_LIMIT) };

// A client address of its own for each test (TEST-NET-3), so no test sees another's count.
let clients = 0;
const newClient = () => `203.0.113.${++clients}`;

async function storedOrders(ctx: TestContext): Promise<number> {
  const [row] = await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders`;
  return row!.n;
}

const placeOrder = (url: string, headers: Record<string, string> = {}, path: '/orders' | '/pizza' = '/orders') =>
  postJson(`${url}${path}`, path === '/orders' ? ORDER : PIZZA, headers);

function rateHeaders(res: Response) {
  return Object.fromEntries(['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy'].map((h) => [h, res.headers.get(h)]));
}

async function expectRefused(res: Response, limit: number) {
  expect(res.status).toBe(429);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const headers = rateHeaders(res);
  expect(headers).toMatchObject({ 'ratelimit-limit': String(limit), 'ratelimit-remaining': '0', 'ratelimit-policy': `${limit};w=60` });
  const retryAfter = Number(headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(headers['ratelimit-reset']).toBe(headers['retry-after']);
  expect(await res.json()).toMatchObject({ status: 429, title: 'Too many requests' });
}

describe('behind one trusted proxy, with two API instances', () => {
  let ctx: TestContext;
  let first: RunningSystem;
  let second: RunningSystem;

  beforeAll(async () => {
    ctx = await createTestContext({ ...LIMITS, AUTH_RATE_LIMIT_PER_MINUTE: String(AUTH_LIMIT), TRUSTED_PROXY_HOPS: '1' });
    first = await startSystem(ctx, ['api']);
    second = await startSystem(ctx, ['api']);
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await ctx?.cleanup();
  });

  it('refuses the order past the limit with 429 and the RateLimit headers, counted across both instances, and stores nothing', async () => {
    const client = { 'x-forwarded-for': `forged-by-client, ${newClient()}` };
    for (let i = 0; i < ORDER_LIMIT; i++) {
      // Alternating instances and the two order routes: one count for order creation.
      const res = await placeOrder(i % 2 === 0 ? first.url : second.url, client, i % 3 === 0 ? '/pizza' : '/orders');
      expect(res.status).toBe(201);
      expect(rateHeaders(res)).toMatchObject({ 'ratelimit-limit': String(ORDER_LIMIT), 'ratelimit-remaining': String(ORDER_LIMIT - 1 - i), 'retry-after': null });
    }
    const before = await storedOrders(ctx);
    await expectRefused(await placeOrder(first.url, client), ORDER_LIMIT);
    await expectRefused(await placeOrder(second.url, client, '/pizza'), ORDER_LIMIT);
    expect(await storedOrders(ctx)).toBe(before);
    // The count lives under the queues' {hash tag}: one Cluster slot with them, removed with them.
    expect(await ctx.redis.keys(`${ctx.config.QUEUE_PREFIX}:rate-limit:orders:ip:*`)).not.toEqual([]);
  });

  it('does not count one client against another', async () => {
    const busy = { 'x-forwarded-for': newClient() };
    for (let i = 0; i < ORDER_LIMIT; i++) expect((await placeOrder(first.url, busy)).status).toBe(201);
    expect((await placeOrder(first.url, busy)).status).toBe(429);
    const res = await placeOrder(second.url, { 'x-forwarded-for': newClient() });
    expect(res.status).toBe(201);
    expect(res.headers.get('ratelimit-remaining')).toBe(String(ORDER_LIMIT - 1));
  });

  it('limits sign-ups and log-ins together, per address, across both instances, before any password is hashed', async () => {
    const guesser = { 'x-forwarded-for': newClient() };
    const login = (url: string) => postJson(`${url}/users/login`, { email: 'nobody@example.com', password: 'a guess at a password' }, guesser);
    expect((await login(first.url)).status).toBe(401);
    expect((await postJson(`${second.url}/users`, { email: 'weak@example.com', password: 'short' }, guesser)).status).toBe(400);
    await expectRefused(await login(second.url), AUTH_LIMIT);
    await expectRefused(await postJson(`${first.url}/users`, { email: 'new@example.com', password: 'correct horse battery staple' }, guesser), AUTH_LIMIT);
    const [row] = await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM customers WHERE email = 'new@example.com'`;
    expect(row!.n).toBe(0);
    // Another address is not affected.
    expect((await postJson(`${first.url}/users/login`, { email: 'nobody@example.com', password: 'another guess' }, { 'x-forwarded-for': newClient() })).status).toBe(401);
  });

  it('limits GET /orders with a count of its own', async () => {
    const client = { 'x-forwarded-for': newClient() };
    // The list is staff's (or a customer's own): staff Basic, from one client address.
    const asStaff = { ...client, ...staffHeaders(first) };
    for (let i = 0; i < LIST_LIMIT; i++) {
      const res = await fetch(`${(i % 2 === 0 ? first : second).url}/orders`, { headers: asStaff });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-remaining')).toBe(String(LIST_LIMIT - 1 - i));
    }
    await expectRefused(await fetch(`${first.url}/orders`, { headers: asStaff }), LIST_LIMIT);
    // The order count is untouched by the list's.
    expect((await placeOrder(first.url, client)).headers.get('ratelimit-remaining')).toBe(String(ORDER_LIMIT - 1));
    // Routes without a limit carry no RateLimit headers.
    expect((await fetch(`${first.url}/health/live`, { headers: client })).headers.get('ratelimit-limit')).toBeNull();
  });
});

describe('without a trusted proxy', () => {
  let ctx: TestContext;
  let system: RunningSystem;

  beforeAll(async () => {
    ctx = await createTestContext({ ...LIMITS, TRUSTED_PROXY_HOPS: '0' });
    system = await startSystem(ctx, ['api']);
  });

  afterAll(async () => {
    await system?.stop();
    await ctx?.cleanup();
  });

  it('ignores X-Forwarded-For: a client cannot make itself a fresh count per request', async () => {
    for (let i = 0; i < ORDER_LIMIT; i++) expect((await placeOrder(system.url, { 'x-forwarded-for': `192.0.2.${i + 1}` })).status).toBe(201);
    await expectRefused(await placeOrder(system.url, { 'x-forwarded-for': '192.0.2.200' }), ORDER_LIMIT);
    // Nor can a bearer token that is not a verified customer's.
    await expectRefused(await placeOrder(system.url, { authorization: 'Bearer made-up' }), ORDER_LIMIT);
  });

  it("counts a verified customer by their token, apart from their address's count", async () => {
    // This address is past its limit (the test before); a logged-in customer from it has their own.
    const customer = await newCustomer(system.url);
    for (let i = 0; i < ORDER_LIMIT; i++) expect((await placeOrder(system.url, customer.headers)).status).toBe(201);
    await expectRefused(await placeOrder(system.url, customer.headers), ORDER_LIMIT);
    // A second customer is a count of its own too.
    expect((await placeOrder(system.url, (await newCustomer(system.url)).headers)).status).toBe(201);
  });
});

describe('with Redis down', () => {
  let redis: PrivateRedis;
  let ctx: TestContext;
  let system: RunningSystem;
  const logLines: string[] = [];

  beforeAll(async () => {
    redis = await startPrivateRedis({ persistent: false });
    ctx = await createTestContext({ ...LIMITS, TRUSTED_PROXY_HOPS: '1' }, { redisUrl: redis.url });
    ctx.redis.on('error', () => {}); // the test's own connection, while Redis is down on purpose
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    system = await startSystem({ ...ctx, log: pino({ level: 'warn' }, sink) }, ['api'], loadConfig(ctx.env));
  });

  afterAll(async () => {
    await system?.stop();
    await redis?.start().catch(() => {}); // cleanup deletes the test's keys there
    await ctx?.cleanup();
    await redis?.stop();
  });

  it('keeps taking orders, still refuses a client past its limit (counted in the process), and says so in the log', async () => {
    const client = { 'x-forwarded-for': newClient() };
    expect((await placeOrder(system.url, client)).status).toBe(201);
    await redis.kill();
    await waitFor('the API to see Redis down', async () => (await fetch(`${system.url}/health/ready`)).status === 503);

    // The in-process count starts afresh: the limit's worth of orders, then 429, never a 500.
    const before = await storedOrders(ctx);
    for (let i = 0; i < ORDER_LIMIT; i++) {
      const res = await placeOrder(system.url, client);
      expect(res.status).toBe(201);
      expect(res.headers.get('ratelimit-remaining')).toBe(String(ORDER_LIMIT - 1 - i));
    }
    await expectRefused(await placeOrder(system.url, client), ORDER_LIMIT);
    expect(await storedOrders(ctx)).toBe(before + ORDER_LIMIT);
    expect(logLines.join('')).toContain('rate limit: Redis unavailable, counting in this process only');
  });
});
