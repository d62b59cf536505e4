// The API description against the API, through the real server on Postgres and Redis: for every
// operation of the document served at /openapi.json and every status it documents, a request that
// gets that status, checked against the document (test/support/openapi-contract.ts: the status is
// documented, the body matches the documented schema, the documented headers are there and right).
// The table must cover the document exactly: a documented (operation, status) without a case fails,
// and so does a case the document does not list. Each case must show every header documented for its
// status, optional ones included (RateLimit-* with the limits on, Idempotent-Replayed on a replay), so
// no header is documented that the code never sends.
//
// No exemptions: three API instances on this file's database and queue prefix drive everything.
//   main   the API as configured by default (rate limits off, as in every test)
//   tight  rate limits of 1 a minute, one wrong staff password allowed, a 4 s request timeout:
//          the 429s, the RateLimit headers, and the 409 of an Idempotency-Key still in use
//   down   Postgres is a closed port: every 503
// Every request names its client in X-Forwarded-For (TRUSTED_PROXY_HOPS=1), a fresh one unless a case
// picks one, so the rate limits and the staff throttle count each case on its own.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createTestContext, TEST_ADMIN_PASSWORD, type TestContext } from './support/context.ts';
import { contractChecker, operationsOf, type OpenApiDocument, type OperationDoc } from './support/openapi-contract.ts';
import { freePort } from './support/processes.ts';
import { newCustomer, PIZZA, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let main: RunningSystem;
let tight: RunningSystem;
let down: RunningSystem;
let doc: OpenApiDocument;
let verdict: ReturnType<typeof contractChecker>;
let customer: Awaited<ReturnType<typeof newCustomer>>;
let anonymousOrder: { id: string; access_token: string };

const PASSWORD = 'a long enough passphrase';
const ORDER = { customer_name: 'Contract', address: '1 Spec St', items: [{ flavor: 'Margherita', size: 'small', quantity: 1 }] };
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const STAFF = basic('admin', TEST_ADMIN_PASSWORD);
const WRONG_STAFF = basic('admin', 'not the password');
const UNKNOWN_CUSTOMER = { authorization: `Bearer cst_${randomBytes(32).toString('base64url')}` };
const OVERSIZED = 'x'.repeat(64 * 1024 + 1);
const NOT_UTF8 = Buffer.from([0x7b, 0xff, 0x7d]);

let clients = 0;
// 198.18.0.0/15 is for benchmarks: never a real client.
const freshClient = () => `198.18.${(++clients >> 8) & 255}.${clients & 255}`;
const freshEmail = () => `contract-${randomUUID()}@example.com`;

interface Req {
  server?: RunningSystem;
  params?: Record<string, string>;
  query?: string;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string | Buffer;
  from?: string;
}
type Call = (req?: Req) => Promise<Response>;
type Case = (call: Call) => Promise<Response>;

// The request an operation's case sends: method and path from the document, so a case cannot drive another operation.
function request(operation: OperationDoc, { server = main, params = {}, query = '', headers = {}, json, body, from = freshClient() }: Req = {}) {
  const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  const all: Record<string, string> = { 'x-forwarded-for': from, ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...headers };
  return fetch(`${server.url}${path}${query}`, { method: operation.method, headers: all, body: json !== undefined ? JSON.stringify(json) : body });
}

// The second of two requests from one client: past a limit of one.
const secondOfTwo = async (call: Call, req: Req) => {
  const from = freshClient();
  expect((await call({ ...req, from })).status).not.toBe(429);
  return call({ ...req, from });
};
// Refusals every request with a body may get, as staff where the operation is the staff's.
const bodyRefusals = (headers: Record<string, string> = {}, params: Record<string, string> = {}): Record<number, Case> => ({
  413: (call) => call({ params, headers: { ...headers, 'content-type': 'application/json' }, body: OVERSIZED }),
  415: (call) => call({ params, headers: { ...headers, 'content-type': 'text/plain' }, body: 'hello' }),
});

// The first request with an Idempotency-Key, still running: a transaction holding the key's row.
async function whileKeyIsHeld(fn: (key: string) => Promise<Response>): Promise<Response> {
  const key = randomUUID();
  const held = await ctx.sql.reserve();
  try {
    await held`BEGIN`;
    await held`INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ('anonymous', ${key}, 'held by the test')`;
    return await fn(key);
  } finally {
    await held`ROLLBACK`;
    held.release();
  }
}

// An outbox row of a new order in the state asked for (no relay runs here: a new row stays pending).
async function outboxRow(state: 'pending' | 'published' | 'dead'): Promise<string> {
  const res = await postJson(`${main.url}/pizza`, PIZZA);
  const { id } = (await res.json()) as { id: string };
  const [row] =
    state === 'published'
      ? await ctx.sql<{ id: string }[]>`UPDATE outbox SET published_at = now() WHERE aggregate_id = ${id} RETURNING id`
      : state === 'dead'
        ? await ctx.sql<{ id: string }[]>`UPDATE outbox SET dead_at = now(), attempts = 5, last_error = 'refused by the test' WHERE aggregate_id = ${id} RETURNING id`
        : await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${id}`;
  return row!.id;
}

const placeOrderCases = (body: unknown, offMenu: unknown): Record<number, Case> => ({
  // A replay, on the rate-limited instance from a second client: Location, Idempotent-Replayed and RateLimit-* at once.
  201: async (call) => {
    const key = { 'idempotency-key': randomUUID() };
    expect((await call({ server: tight, headers: key, json: body })).status).toBe(201);
    return call({ server: tight, headers: key, json: body });
  },
  400: (call) => call({ json: {} }),
  401: (call) => call({ headers: UNKNOWN_CUSTOMER, json: body }),
  409: (call) => whileKeyIsHeld((key) => call({ server: tight, headers: { 'idempotency-key': key }, json: body })),
  ...bodyRefusals(),
  422: (call) => call({ json: offMenu }),
  429: (call) => secondOfTwo(call, { server: tight, json: {} }),
  503: (call) => call({ server: down, json: body }),
});

const staffRefusals = (params: Record<string, string> = {}): Record<number, Case> => ({
  401: (call) => call({ params }),
  429: (call) => secondOfTwo(call, { server: tight, params, headers: WRONG_STAFF }),
});

const outboxActionCases = (fits: 'published' | 'dead', doesNotFit: 'pending' | 'dead'): Record<number, Case> => ({
  202: async (call) => call({ params: { id: await outboxRow(fits) }, headers: STAFF }),
  400: (call) => call({ params: { id: 'not-a-uuid' }, headers: STAFF }),
  ...staffRefusals({ id: randomUUID() }),
  403: (call) => call({ params: { id: randomUUID() }, headers: { ...STAFF, origin: 'https://attacker.example' } }),
  404: (call) => call({ params: { id: randomUUID() }, headers: STAFF }),
  409: async (call) => call({ params: { id: await outboxRow(doesNotFit) }, headers: STAFF }),
  ...bodyRefusals(STAFF, { id: randomUUID() }),
  503: (call) => call({ server: down, params: { id: randomUUID() }, headers: STAFF }),
});

// operationId → documented status → a request that gets it.
const CASES: Record<string, Record<number, Case>> = {
  getLiveness: { 200: (call) => call() },
  getReadiness: { 200: (call) => call(), 503: (call) => call({ server: down }) },
  getMenu: { 200: (call) => call(), 503: (call) => call({ server: down }) },
  placeOrder: placeOrderCases(ORDER, { ...ORDER, items: [{ flavor: 'Margherita', size: 'small', quantity: 1, unit_price_cents: 1 }] }),
  placePizzaOrder: placeOrderCases(PIZZA, { ...PIZZA, price: 0.01 }),
  getOrder: {
    200: (call) => call({ params: { id: anonymousOrder.id }, headers: { authorization: `Bearer ${anonymousOrder.access_token}` } }),
    400: (call) => call({ params: { id: 'not-a-uuid' }, headers: STAFF }),
    401: (call) => call({ params: { id: anonymousOrder.id }, headers: UNKNOWN_CUSTOMER }),
    404: (call) => call({ params: { id: randomUUID() }, headers: STAFF }),
    429: (call) => secondOfTwo(call, { server: tight, params: { id: randomUUID() }, headers: WRONG_STAFF }),
    503: (call) => call({ server: down, params: { id: randomUUID() }, headers: STAFF }),
  },
  listOrders: {
    200: (call) => call({ server: tight, headers: STAFF }),
    400: (call) => call({ query: '?limit=0', headers: STAFF }),
    401: (call) => call(),
    429: (call) => secondOfTwo(call, { server: tight }),
    503: (call) => call({ server: down, headers: STAFF }),
  },
  createUser: {
    201: (call) => call({ server: tight, json: { email: freshEmail(), password: PASSWORD } }),
    400: (call) => call({ json: { email: 'not an email', password: PASSWORD } }),
    401: (call) => call({ headers: UNKNOWN_CUSTOMER, json: { email: freshEmail(), password: PASSWORD } }),
    409: (call) => call({ json: { email: customer.email, password: PASSWORD } }),
    ...bodyRefusals(),
    429: (call) => secondOfTwo(call, { server: tight, json: {} }),
    503: (call) => call({ server: down, json: { email: freshEmail(), password: PASSWORD } }),
  },
  logIn: {
    200: (call) => call({ server: tight, json: { email: customer.email, password: PASSWORD } }),
    400: (call) => call({ json: {} }),
    401: (call) => call({ json: { email: customer.email, password: 'not the passphrase' } }),
    ...bodyRefusals(),
    429: (call) => secondOfTwo(call, { server: tight, json: {} }),
    503: (call) => call({ server: down, json: { email: customer.email, password: PASSWORD } }),
  },
  logOut: {
    204: async (call) => call({ headers: (await newCustomer(main.url)).headers }),
    400: (call) => call({ headers: { 'content-type': 'application/json' }, body: NOT_UTF8 }),
    401: (call) => call(),
    ...bodyRefusals(),
    429: (call) => secondOfTwo(call, { server: tight, headers: WRONG_STAFF }),
    503: (call) => call({ server: down, headers: customer.headers }),
  },
  listOutboxRows: {
    200: (call) => call({ query: '?state=dead', headers: STAFF }),
    400: (call) => call({ query: '?state=nope', headers: STAFF }),
    ...staffRefusals(),
    503: (call) => call({ server: down, query: '?state=dead', headers: STAFF }),
  },
  replayOutboxEvent: outboxActionCases('published', 'dead'),
  requeueOutboxRow: outboxActionCases('dead', 'pending'),
};

beforeAll(async () => {
  ctx = await createTestContext();
  const config = (env: Record<string, string> = {}) => loadConfig({ ...ctx.env, TRUSTED_PROXY_HOPS: '1', ...env });
  main = await startSystem(ctx, ['api'], config());
  tight = await startSystem(
    ctx,
    ['api'],
    config({
      ORDER_RATE_LIMIT_PER_MINUTE: '1',
      LIST_RATE_LIMIT_PER_MINUTE: '1',
      AUTH_RATE_LIMIT_PER_MINUTE: '1',
      ADMIN_LOGIN_MAX_FAILURES: '1',
      // A keyed order waits 90 % of it for a key still in use, then answers 409; the 10 % left (400 ms)
      // keeps the timeout's 503 from overtaking that 409 on a busy machine.
      REQUEST_TIMEOUT_MS: '4000',
    }),
  );
  // The signing key given, nothing reads Postgres at start.
  down = await startSystem(
    ctx,
    ['api'],
    config({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/outbox`, OUTBOX_SIGNING_KEY: randomBytes(32).toString('base64url') }),
  );
  doc = (await (await fetch(`${main.url}/openapi.json`)).json()) as OpenApiDocument;
  verdict = contractChecker(doc);
  customer = await newCustomer(main.url, freshEmail(), PASSWORD);
  anonymousOrder = (await (await postJson(`${main.url}/pizza`, PIZZA)).json()) as typeof anonymousOrder;
});

afterAll(async () => {
  await Promise.all([main?.stop(), tight?.stop(), down?.stop()]);
  await ctx?.cleanup();
});

describe('the OpenAPI document', () => {
  it('is the same on every instance, and has a case for every documented status of every operation, and no other', async () => {
    for (const other of [tight, down]) expect(await (await fetch(`${other.url}/openapi.json`)).json()).toEqual(doc);
    const documented = [...operationsOf(doc).values()].flatMap((op) => Object.keys(op.responses).map((status) => `${op.operationId} ${status}`));
    const driven = Object.entries(CASES).flatMap(([id, byStatus]) => Object.keys(byStatus).map((status) => `${id} ${status}`));
    expect(driven.sort()).toEqual(documented.sort());
  });

  describe.each(Object.entries(CASES))('%s', (operationId, byStatus) => {
    it.each(Object.entries(byStatus))('answers %s as documented', async (status, send) => {
      const operation = operationsOf(doc).get(operationId);
      expect(operation, `${operationId} is not in the document`).toBeDefined();
      const res = await send((req) => request(operation!, req));
      expect({ status: res.status, ...(await verdict(operationId, res)) }).toEqual({ status: Number(status), problems: [], absent: [] });
    });
  });
});
