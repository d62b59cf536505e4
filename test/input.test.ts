// Hostile input against the real server: every bad request gets a clear 4xx problem, nothing is
// stored, and the server keeps answering. Property-based with fast-check, plus hand-made cases.
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateOrderSchema, PizzaSchema } from '../src/api/schemas.ts';
import { createTestContext, type TestContext } from './support/context.ts';
import { PIZZA, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext({ LOG_LEVEL: 'silent' });
  system = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

async function storedRows(): Promise<number> {
  const [row] = await ctx.sql`SELECT (SELECT count(*) FROM orders)::int + (SELECT count(*) FROM outbox)::int AS n`;
  return row!.n;
}

async function sendRaw(path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${system.url}${path}`, { method: 'POST', headers, body });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

function expectCleanRefusal(res: { status: number; type: string; text: string }) {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.type).toContain('application/problem+json');
  expect(res.text).not.toMatch(/INSERT|SELECT|postgres|at \w+ \(|node_modules/i);
}

const ORDER = { customer_name: 'Fuzz', address: '1 Fuzz St', items: [{ flavor: 'Funghi', size: 'small', quantity: 1, unit_price_cents: 900 }] };

// Values that are wrong wherever a number, string or object is expected.
const wrongValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.double({ noNaN: false }).filter((v) => !Number.isSafeInteger(v) || v <= 0),
  fc.integer({ min: -1_000_000, max: 0 }),
  fc.constantFrom(null, true, false, [], {}, '10', '19.99', 2 ** 53 + 2, -0, 1e308, 0.001),
  fc.array(fc.integer(), { maxLength: 3 }),
);

describe('POST /orders and /pizza under generated garbage', () => {
  // The schema is the oracle for which generated bodies are valid (a random string is a fine
  // flavor); the server must agree with it, answer invalid ones with a clean 4xx and store nothing.
  async function checkAgainstSchema(path: '/pizza' | '/orders', body: unknown) {
    const schema = path === '/pizza' ? PizzaSchema : CreateOrderSchema;
    const before = await storedRows();
    const res = await sendRaw(path, JSON.stringify(body));
    if (schema.safeParse(JSON.parse(JSON.stringify(body))).success) {
      expect(res.status).toBe(201);
      return;
    }
    expectCleanRefusal(res);
    expect(await storedRows()).toBe(before);
  }

  it('refuses a body with one field replaced by a wrong value', async () => {
    const pizzaFields = ['flavor', 'size', 'quantity', 'price', 'address', 'user_name'] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...pizzaFields), wrongValue, (field, value) => checkAgainstSchema('/pizza', { ...PIZZA, [field]: value })),
      { numRuns: 150 },
    );
    const itemFields = ['flavor', 'size', 'quantity', 'unit_price_cents'] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...itemFields), wrongValue, (field, value) => checkAgainstSchema('/orders', { ...ORDER, items: [{ ...ORDER.items[0], [field]: value }] })),
      { numRuns: 150 },
    );
  });

  it('refuses unknown keys at any depth and stores nothing', async () => {
    const before = await storedRows();
    await fc.assert(
      fc.asyncProperty(
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter((k) => !['customer_name', 'address', 'items', 'flavor', 'size', 'quantity', 'unit_price_cents', 'price', 'user_name', '__proto__'].includes(k)),
        fc.jsonValue(),
        fc.constantFrom('root', 'item', 'pizza'),
        async (key, value, where) => {
          const body = where === 'root' ? { ...ORDER, [key]: value } : where === 'item' ? { ...ORDER, items: [{ ...ORDER.items[0], [key]: value }] } : { ...PIZZA, [key]: value };
          const res = await sendRaw(where === 'pizza' ? '/pizza' : '/orders', JSON.stringify(body));
          expect(res.status).toBe(400);
          expectCleanRefusal(res);
          expect(res.text).toContain(key.replaceAll('\\', '\\\\').replaceAll('"', '\\"').slice(0, 1));
        },
      ),
      { numRuns: 100 },
    );
    expect(await storedRows()).toBe(before);
  });

  it('refuses arbitrary bytes and arbitrary JSON', async () => {
    const before = await storedRows();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 })), fc.constantFrom('/orders', '/pizza'), async (text, path) => {
        expectCleanRefusal(await sendRaw(path, text));
      }),
      { numRuns: 200 },
    );
    expect(await storedRows()).toBe(before);
    expect((await fetch(`${system.url}/health/live`)).status).toBe(200);
  });
});

describe('hand-made hostile requests', () => {
  it.each([
    ['NaN', '{"flavor":"P","size":"Large","quantity":NaN,"price":1,"address":"a","user_name":"b"}'],
    ['Infinity', '{"flavor":"P","size":"Large","quantity":1,"price":Infinity,"address":"a","user_name":"b"}'],
    // biome-ignore lint/correctness/noPrecisionLoss: the point: a quantity JSON can carry but a JS number cannot
    ['a number past MAX_SAFE_INTEGER', JSON.stringify({ ...PIZZA, quantity: 9007199254740993 })],
    ['a trailing comma', '{"flavor":"P",}'],
    ['an empty body', ''],
    ['a JSON array', '[1,2,3]'],
    ['a prototype key', '{"__proto__":{"admin":true},"flavor":"Pepperoni","size":"Large","quantity":2,"price":19.99,"address":"123 Main St","user_name":"Alice"}'],
  ])('refuses %s', async (_, text) => {
    const before = await storedRows();
    expectCleanRefusal(await sendRaw('/pizza', text));
    expect(await storedRows()).toBe(before);
  });

  it('refuses a string of megabytes with 413', async () => {
    const res = await sendRaw('/pizza', JSON.stringify({ ...PIZZA, address: 'x'.repeat(3 * 1024 * 1024) }));
    expect(res.status).toBe(413);
    expectCleanRefusal(res);
  });

  it('refuses a chunked body over the limit with 413, without Content-Length', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${system.url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err) => (('code' in err && err.code === 'ECONNRESET') || ('code' in err && err.code === 'EPIPE') ? resolve(413) : reject(err)));
      const chunk = `{"address":"${'y'.repeat(16 * 1024)}`;
      for (let i = 0; i < 16; i++) req.write(chunk);
      req.end('"}');
    });
    expect(status).toBe(413);
  });

  it('refuses a wrong content type with 415', async () => {
    const res = await sendRaw('/pizza', JSON.stringify(PIZZA), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expectCleanRefusal(res);
  });

  it('still takes a good order afterwards', async () => {
    expect((await postJson(`${system.url}/pizza`, PIZZA)).status).toBe(201);
  });
});
