// Hostile input against the real server: every bad request gets a clear 4xx problem, nothing is
// stored, and the server keeps answering. Property-based with fast-check, plus hand-made cases.
// The strings are full Unicode with NUL and lone surrogates mixed in (test/support/hostile-text.ts);
// query strings, headers, path parameters and the admin routes are in input-wire.test.ts.
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateOrderSchema, PizzaSchema, pizzaToOrder, TEXT_CAPS, type CreateOrderInput, type PizzaInput } from '../src/api/schemas.ts';
import { createTestContext, type TestContext } from './support/context.ts';
import { anyText, mustBeRefused, NUL, refusedText } from './support/hostile-text.ts';
import { PIZZA, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

// The menu (as the migration seeds it): the oracle for which valid bodies name what the shop sells
// at its price; the others are a 422.
const menu = new Map<string, number>();
const onMenu = (order: CreateOrderInput) =>
  order.items.every((i) => {
    const price = menu.get(`${i.flavor.trim().toLowerCase()}\n${i.size}`);
    return price !== undefined && (i.unit_price_cents === undefined || i.unit_price_cents === price);
  });

beforeAll(async () => {
  ctx = await createTestContext({ LOG_LEVEL: 'silent' });
  for (const e of await ctx.sql<{ flavor: string; size: string; price_cents: number }[]>`SELECT flavor, size, price_cents FROM menu`) {
    menu.set(`${e.flavor.toLowerCase()}\n${e.size}`, e.price_cents);
  }
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

async function sendRaw(path: string, body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }) {
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
  refusedText,
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
    const parsed = schema.safeParse(JSON.parse(JSON.stringify(body)));
    if (parsed.success) {
      const order = path === '/pizza' ? pizzaToOrder(parsed.data as PizzaInput) : (parsed.data as CreateOrderInput);
      expect(res.status, res.text).toBe(onMenu(order) ? 201 : 422);
      if (res.status === 422) expect(await storedRows()).toBe(before);
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
        anyText(12).filter(
          (k) => k.length > 0 && !['customer_name', 'address', 'items', 'flavor', 'size', 'quantity', 'unit_price_cents', 'price', 'user_name', '__proto__'].includes(k),
        ),
        fc.jsonValue({ stringUnit: 'binary' }),
        fc.constantFrom('root', 'item', 'pizza'),
        async (key, value, where) => {
          const body = where === 'root' ? { ...ORDER, [key]: value } : where === 'item' ? { ...ORDER, items: [{ ...ORDER.items[0], [key]: value }] } : { ...PIZZA, [key]: value };
          const res = await sendRaw(where === 'pizza' ? '/pizza' : '/orders', JSON.stringify(body));
          expect(res.status).toBe(400);
          expectCleanRefusal(res);
          // Named as sent, NUL and lone surrogates included (JSON-escaped on the wire).
          const errors = (JSON.parse(res.text) as { errors: Array<{ path: string; message: string }> }).errors;
          expect(errors.some((e) => e.message === 'unknown field' && e.path.includes(key))).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
    expect(await storedRows()).toBe(before);
  });

  it('refuses arbitrary bytes and arbitrary JSON', async () => {
    const before = await storedRows();
    const garbage = fc.oneof(anyText(200), fc.json({ maxDepth: 4, stringUnit: 'binary' }), fc.uint8Array({ maxLength: 200 }));
    await fc.assert(
      fc.asyncProperty(garbage, fc.constantFrom('/orders', '/pizza'), async (text, path) => {
        expectCleanRefusal(await sendRaw(path, text));
      }),
      { numRuns: 200 },
    );
    expect(await storedRows()).toBe(before);
    expect((await fetch(`${system.url}/health/live`)).status).toBe(200);
  });
});

// Every string field of both order routes, with where it lands in the request and its cap.
const STRING_FIELDS = [
  { path: '/orders', field: 'customer_name', cap: TEXT_CAPS.customer_name, body: (v: string) => ({ ...ORDER, customer_name: v }) },
  { path: '/orders', field: 'address', cap: TEXT_CAPS.address, body: (v: string) => ({ ...ORDER, address: v }) },
  { path: '/orders', field: 'items[0].flavor', cap: TEXT_CAPS.flavor, body: (v: string) => ({ ...ORDER, items: [{ ...ORDER.items[0], flavor: v }] }) },
  { path: '/pizza', field: 'flavor', cap: TEXT_CAPS.flavor, body: (v: string) => ({ ...PIZZA, flavor: v }) },
  { path: '/pizza', field: 'address', cap: TEXT_CAPS.address, body: (v: string) => ({ ...PIZZA, address: v }) },
  { path: '/pizza', field: 'user_name', cap: TEXT_CAPS.customer_name, body: (v: string) => ({ ...PIZZA, user_name: v }) },
] as const;

// What an order's response says a field holds (the Pizza body's fields as the order stores them).
function echoed(order: { customer_name: string; address: string; items: Array<{ flavor: string }> }, field: string): string {
  if (field === 'address') return order.address;
  if (field === 'customer_name' || field === 'user_name') return order.customer_name;
  return order.items[0]!.flavor;
}

describe('every string field under full-Unicode text', () => {
  it('refuses NUL and lone surrogates with a 400 naming the field, and stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...STRING_FIELDS), refusedText, async ({ path, field, body }, value) => {
        const before = await storedRows();
        const res = await sendRaw(path, JSON.stringify(body(value)));
        expect(res.status).toBe(400);
        expectCleanRefusal(res);
        expect((JSON.parse(res.text) as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toContain(field);
        expect(await storedRows()).toBe(before);
      }),
      { numRuns: 120 },
    );
  });

  it('stores any other text exactly as sent (trimmed), or refuses it and stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...STRING_FIELDS), anyText(), async ({ path, field, cap, body }, value) => {
        const before = await storedRows();
        const res = await sendRaw(path, JSON.stringify(body(value)));
        const trimmed = value.trim();
        if (mustBeRefused(value) || trimmed.length === 0 || trimmed.length > cap) {
          expectCleanRefusal(res);
          expect(await storedRows()).toBe(before);
          return;
        }
        if (field.endsWith('flavor') && !menu.has(`${trimmed.toLowerCase()}\n${path === '/pizza' ? 'large' : 'small'}`)) {
          // Not on the menu: a clean 422 naming the flavor, whatever its text.
          expect(res.status, res.text).toBe(422);
          expectCleanRefusal(res);
          expect((JSON.parse(res.text) as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toEqual([field]);
          expect(await storedRows()).toBe(before);
          return;
        }
        expect(res.status, res.text).toBe(201);
        const order = JSON.parse(res.text) as { id: string; customer_name: string; address: string; items: Array<{ flavor: string }> };
        expect(echoed(order, field)).toBe(trimmed);
        const [stored] = await ctx.sql<{ customer_name: string; address: string; items: Array<{ flavor: string }> }[]>`
          SELECT customer_name, address, items FROM orders WHERE id = ${order.id}`;
        expect(echoed(stored!, field)).toBe(trimmed);
      }),
      { numRuns: 120 },
    );
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
    // The 500s: Postgres refuses NUL in text (22021) and jsonb (22P05), a lone surrogate in jsonb (22P02).
    ['a NUL in a name', JSON.stringify({ ...PIZZA, user_name: `Bob${NUL}` })],
    ['a NUL in a flavor (jsonb)', JSON.stringify({ ...PIZZA, flavor: `Pep${NUL}` })],
    ['a lone surrogate in a flavor (jsonb)', JSON.stringify({ ...PIZZA, flavor: 'Pep\udfff' })],
    ['a lone surrogate in a name (once stored as U+FFFD)', JSON.stringify({ ...PIZZA, user_name: '\ud800Bob' })],
    ['a NUL in a key', JSON.stringify({ ...PIZZA, [`user_name${NUL}`]: 'x' })],
    ['a lone surrogate in a key', JSON.stringify({ ...PIZZA, '\udfff': 'x' })],
    ['a NUL in an unknown field', JSON.stringify({ ...PIZZA, note: NUL })],
  ])('refuses %s', async (_, text) => {
    const before = await storedRows();
    expectCleanRefusal(await sendRaw('/pizza', text));
    expect(await storedRows()).toBe(before);
  });

  it.each([
    ['a lone surrogate as UTF-8 bytes', [0xed, 0xbf, 0xbf]],
    ['a stray 0xff byte', [0xff]],
    ['a truncated sequence', [0xe2, 0x82]],
  ])('refuses a body that is no UTF-8 (%s) instead of storing U+FFFD', async (_, bytes) => {
    const before = await storedRows();
    const [head, tail] = JSON.stringify({ ...PIZZA, user_name: 'Bob@' }).split('@') as [string, string];
    const body = Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)]);
    const res = await sendRaw('/pizza', body);
    expect(res.status).toBe(400);
    expectCleanRefusal(res);
    expect(res.text).toContain('UTF-8');
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
