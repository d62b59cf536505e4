// One page of GET /orders has a documented bound (LIST_RESPONSE_MAX_BYTES), whatever the orders
// hold: measured here through the real API on the worst page there can be, MAX_PAGE_SIZE orders of
// MAX_ITEMS_PER_ORDER items with every string at its cap, made of the character that costs the
// most bytes in JSON. The caps themselves are checked to hold, so the bound cannot be met by
// accident (a cap that stopped working would let bigger orders in).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIST_RESPONSE_MAX_BYTES, MAX_ITEMS_PER_ORDER, MAX_PAGE_SIZE, safeString, TEXT_CAPS } from '../src/api/schemas.ts';
import { createTestContext, type TestContext } from './support/context.ts';
import { addMenuEntry, PIZZA, postJson, staffGet, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

// The dearest item the schema takes. Prices come from the menu, so the worst page needs a menu
// entry of its own: a flavor at its cap, made of the costliest character, at the top price
// (added before the API starts, so its first read of the menu has it).
const TOP_PRICE = 1_000_000;

beforeAll(async () => {
  ctx = await createTestContext({ LOG_LEVEL: 'silent' });
  await addMenuEntry(ctx.sql, fill(costliestCharacter().ch, TEXT_CAPS.flavor), 'medium', TOP_PRICE);
  system = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

// JSON bytes of one UTF-16 unit's worth of `ch` (an astral character is two units).
const jsonBytesPerUnit = (ch: string) => (Buffer.byteLength(JSON.stringify(ch)) - 2) / ch.length;

// The accepted character that costs the most bytes per unit of a string's length cap.
function costliestCharacter(): { ch: string; bytes: number } {
  let worst = { ch: 'a', bytes: 1 };
  for (let unit = 0; unit <= 0xffff; unit++) {
    const ch = String.fromCharCode(unit);
    if (!safeString().safeParse(ch).success || ch.trim() === '') continue;
    const bytes = jsonBytesPerUnit(ch);
    if (bytes > worst.bytes) worst = { ch, bytes };
  }
  // Astral characters: 4 UTF-8 bytes for 2 units, never worse than a BMP one; checked, not assumed.
  expect(jsonBytesPerUnit('\u{1F355}')).toBeLessThan(worst.bytes);
  return worst;
}

const fill = (ch: string, length: number) => ch.repeat(length);

function largestOrder(ch: string) {
  return {
    customer_name: fill(ch, TEXT_CAPS.customer_name),
    address: fill(ch, TEXT_CAPS.address),
    items: Array.from({ length: MAX_ITEMS_PER_ORDER }, () => ({ flavor: fill(ch, TEXT_CAPS.flavor), size: 'medium', quantity: 100, unit_price_cents: TOP_PRICE })),
  };
}

async function pageBytes(limit: number): Promise<{ bytes: number; orders: number }> {
  const res = await staffGet(system, `/orders?limit=${limit}`);
  expect(res.status).toBe(200);
  const body = Buffer.from(await res.arrayBuffer());
  return { bytes: body.length, orders: (JSON.parse(body.toString('utf8')) as { orders: unknown[] }).orders.length };
}

describe('GET /orders page size', () => {
  it('stays under the documented bound on the worst page there can be', async () => {
    const { ch, bytes } = costliestCharacter();
    expect(bytes).toBe(6); // a C0 control character, escaped as \u00XX
    const order = largestOrder(ch);
    for (let i = 0; i < MAX_PAGE_SIZE; i++) {
      const res = await postJson(`${system.url}/orders`, order);
      expect(res.status, await res.text()).toBe(201);
    }
    const page = await pageBytes(MAX_PAGE_SIZE);
    expect(page.orders).toBe(MAX_PAGE_SIZE);
    console.info(`worst-case page: ${MAX_PAGE_SIZE} orders, ${page.bytes} bytes (bound ${LIST_RESPONSE_MAX_BYTES})`);
    expect(page.bytes).toBeLessThanOrEqual(LIST_RESPONSE_MAX_BYTES);
  }, 60_000);

  it('keeps the caps the bound is computed from', async () => {
    const { ch } = costliestCharacter();
    const order = largestOrder(ch);
    const tooBig = [
      { ...order, customer_name: fill(ch, TEXT_CAPS.customer_name + 1) },
      { ...order, address: fill(ch, TEXT_CAPS.address + 1) },
      { ...order, items: [...order.items, order.items[0]] },
      { ...order, items: [{ ...order.items[0], flavor: fill(ch, TEXT_CAPS.flavor + 1) }] },
    ];
    for (const body of tooBig) expect((await postJson(`${system.url}/orders`, body)).status).toBe(400);
    expect((await staffGet(system, `/orders?limit=${MAX_PAGE_SIZE + 1}`)).status).toBe(400);
  });

  it('documents the bound in the OpenAPI description of the list', async () => {
    const doc = (await (await fetch(`${system.url}/openapi.json`)).json()) as { paths: Record<string, { get: { description: string } }> };
    expect(doc.paths['/orders']!.get.description).toContain(`at most ${LIST_RESPONSE_MAX_BYTES.toLocaleString('en')} bytes`);
    expect(doc.paths['/orders']!.get.description).toContain(`At most ${MAX_PAGE_SIZE} orders a page`);
  });

  it('serves a page of realistic orders in a small fraction of the bound', async () => {
    for (let i = 0; i < MAX_PAGE_SIZE; i++) expect((await postJson(`${system.url}/pizza`, PIZZA)).status).toBe(201);
    const page = await pageBytes(MAX_PAGE_SIZE);
    console.info(`realistic page: ${MAX_PAGE_SIZE} orders, ${page.bytes} bytes`);
    expect(page.bytes).toBeLessThan(LIST_RESPONSE_MAX_BYTES / 20);
  }, 60_000);
});
