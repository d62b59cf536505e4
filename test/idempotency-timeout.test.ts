// Idempotency-Key against time: a request that waits for another with its key past the budget is
// a 409; one that times out on a stalled database answers 503 with its transaction cancelled (not
// left to commit later), and however the retries fall, one key is one order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHash } from '../src/api/idempotency.ts';
import { pizzaToOrder, PizzaSchema } from '../src/api/schemas.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { PIZZA, postJson, startSystem, type RunningSystem, ordersAndEventsOf } from './support/system.ts';

// Short, so the tests cross it quickly; a keyed order's transaction gets 90% of it.
const REQUEST_TIMEOUT_MS = 1500;

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext({ REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  system = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

const rowsFor = (customer: string) => ordersAndEventsOf(ctx, customer);

describe('one Idempotency-Key across the request timeout', () => {
  it('answers 409 when the request with the key runs past the wait, and takes the key once it is gone', async () => {
    const body = { ...PIZZA, user_name: 'Idem Running' };
    // The first request is represented by a transaction holding the key's row, uncommitted.
    const hash = requestHash('/pizza', pizzaToOrder(PizzaSchema.parse(body)));
    const first = await ctx.sql.reserve();
    try {
      await first`BEGIN`;
      await first`INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ('anonymous', 'idem-running', ${hash})`;
      const running = await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-running' });
      expect(running.status).toBe(409);
      expect(running.headers.get('retry-after')).toBe('1');
      await first`ROLLBACK`;
    } finally {
      first.release();
    }
    expect(await rowsFor('Idem Running')).toEqual({ orders: 0, events: 0 });
    // The first never committed: the key is free, and a retry places the order.
    expect((await postJson(`${system.url}/pizza`, body, { 'idempotency-key': 'idem-running' })).status).toBe(201);
    expect(await rowsFor('Idem Running')).toEqual({ orders: 1, events: 1 });
  });

  const waitingOnLocks = async () => {
    const [row] = await ctx.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    return row!.n;
  };

  it('answers 503 past the timeout with its transaction cancelled, and never yields a second order', async () => {
    const body = { ...PIZZA, user_name: 'Idem Stalled' };
    const key = { 'idempotency-key': crypto.randomUUID() };
    // The database stalls: the orders table is locked by a transaction of the test's.
    const stall = await ctx.sql.reserve();
    try {
      await stall`BEGIN`;
      await stall`LOCK TABLE orders IN ACCESS EXCLUSIVE MODE`;
      const timedOut = await postJson(`${system.url}/pizza`, body, key);
      expect(timedOut.status).toBe(503);
      // Its transaction is cancelled, not left waiting to commit once the lock goes.
      await waitFor('the timed-out request to stop waiting on the lock', async () => (await waitingOnLocks()) === 0);

      // Two more with the key while the table is still locked: one waits on the order, the other on the key.
      const retries = [postJson(`${system.url}/pizza`, body, key), postJson(`${system.url}/pizza`, body, key)];
      await waitFor('the retries to wait on the lock', async () => (await waitingOnLocks()) >= 1);
      await stall`COMMIT`;
      const answers = await Promise.all(retries);
      const statuses = answers.map((r) => r.status).sort();
      expect([
        [201, 201],
        [201, 409],
        [201, 503],
      ]).toContainEqual(statuses);
      const ids = new Set(await Promise.all(answers.filter((r) => r.status === 201).map(async (r) => ((await r.json()) as { id: string }).id)));
      expect(ids.size).toBe(1);
    } finally {
      await stall`ROLLBACK`.catch(() => {});
      stall.release();
    }
    // Whatever the timing: one order, one event, and every later retry replays it.
    expect(await rowsFor('Idem Stalled')).toEqual({ orders: 1, events: 1 });
    const late = await postJson(`${system.url}/pizza`, body, key);
    expect(late.status).toBe(201);
    expect(late.headers.get('idempotent-replayed')).toBe('true');
    expect(await rowsFor('Idem Stalled')).toEqual({ orders: 1, events: 1 });
  });
});
