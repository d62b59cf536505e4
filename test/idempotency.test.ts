// Idempotency-Key against real Postgres: replays, conflicts, racing requests with one key, and keys
// scoped to their caller. Timeouts (a stalled database, a key held past the wait) are in
// idempotency-timeout.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHash } from '../src/api/idempotency.ts';
import { pizzaToOrder, PizzaSchema } from '../src/api/schemas.ts';
import { createTestContext, type TestContext } from './support/context.ts';
import { newCustomer, PIZZA, postJson, startSystem, type RunningSystem, ordersAndEventsOf } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext();
  system = await startSystem(ctx, ['api']); // no relay or workers: only the API's writes matter here
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

const rowsFor = (customer: string) => ordersAndEventsOf(ctx, customer);

describe('Idempotency-Key', () => {
  it('replays the first response: one order, one outbox row', async () => {
    const body = { ...PIZZA, user_name: 'Idem One' };
    const first = await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-1' });
    const again = await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-1' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(await rowsFor('Idem One')).toEqual({ orders: 1, events: 1 });
  });

  it('refuses the same key with a different body (422) and stores nothing more', async () => {
    const body = { ...PIZZA, user_name: 'Idem Two' };
    expect((await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-2' })).status).toBe(201);
    const other = await postJson(`${system.url}/pizza`, { ...body, quantity: 5 }, { 'idempotency-key': 'idem-2' });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
    // The same key on the other route is a different request too.
    const elsewhere = await postJson(
      `${system.url}/orders`,
      {
        customer_name: 'Idem Two',
        address: '123 Main St',
        items: [{ flavor: 'Pepperoni', size: 'large', quantity: 2, unit_price_cents: 1999 }],
      },
      { 'idempotency-key': 'idem-2' },
    );
    expect(elsewhere.status).toBe(422);
    expect(await rowsFor('Idem Two')).toEqual({ orders: 1, events: 1 });
  });

  it('lets exactly one of 12 racing requests with one key create the order', async () => {
    const body = { ...PIZZA, user_name: 'Idem Race' };
    const responses = await Promise.all(Array.from({ length: 12 }, () => postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-race' })));
    const statuses = responses.map((r) => r.status);
    expect(
      statuses.every((s) => s === 201 || s === 409),
      String(statuses),
    ).toBe(true);
    const ids = new Set(await Promise.all(responses.filter((r) => r.status === 201).map(async (r) => ((await r.json()) as { id: string }).id)));
    expect(ids.size).toBe(1);
    expect(await rowsFor('Idem Race')).toEqual({ orders: 1, events: 1 });
    // Once the first has finished, every retry gets its response.
    const late = await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-race' });
    expect(late.status).toBe(201);
    expect(((await late.json()) as { id: string }).id).toBe([...ids][0]);
  });

  it('takes over an unanswered key row left by the code before keys were decided in the order transaction', async () => {
    const body = { ...PIZZA, user_name: 'Idem Legacy' };
    const hash = requestHash('/pizza', pizzaToOrder(PizzaSchema.parse(body)));
    await ctx.sql`INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ('anonymous', 'idem-legacy', ${hash})`;
    expect((await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-legacy' })).status).toBe(201);
    expect(await rowsFor('Idem Legacy')).toEqual({ orders: 1, events: 1 });
  });

  it('scopes keys to their caller: the same key from two customers and from nobody is three orders', async () => {
    const body = { ...PIZZA, user_name: 'Idem Scoped' };
    const key = { 'idempotency-key': crypto.randomUUID() };
    const [ann, bob] = [await newCustomer(system.url), await newCustomer(system.url)];
    const answers = [
      await postJson(`${system.url}/pizza`, body, { ...key, ...ann.headers }),
      await postJson(`${system.url}/pizza`, body, { ...key, ...bob.headers }),
      await postJson(`${system.url}/pizza`, body, key),
    ];
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201]);
    expect(answers.map((r) => r.headers.get('idempotent-replayed'))).toEqual([null, null, null]);
    const ids = await Promise.all(answers.map(async (r) => ((await r.json()) as { id: string }).id));
    expect(new Set(ids).size).toBe(3);
    // Each replays its own, and only to its own caller.
    const again = await postJson(`${system.url}/pizza`, body, { ...key, ...bob.headers });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(ids[1]);
    expect(await rowsFor('Idem Scoped')).toEqual({ orders: 3, events: 3 });
  });

  it('lets a key be reused after it expired', async () => {
    const body = { ...PIZZA, user_name: 'Idem Expired' };
    expect((await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-old' })).status).toBe(201);
    await ctx.sql`UPDATE idempotency_keys SET created_at = now() - interval '2 days' WHERE key = 'idem-old'`;
    const again = await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-old' });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(await rowsFor('Idem Expired')).toEqual({ orders: 2, events: 2 });
  });
});
