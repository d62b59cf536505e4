// The whole pipeline in one process, over HTTP: order → outbox → relay → BullMQ → workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from './support/context.ts';
import { effectCounts, PIZZA, postJson, staffGet, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext();
  system = await startSystem(ctx);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

async function orderStatus(id: string) {
  const res = await staffGet(system, `/orders/${id}`);
  return (await res.json()) as { status: string; payment: unknown; delivery: unknown; invoice: unknown; total_cents: number };
}

describe('an order placed over HTTP', () => {
  it('reaches delivered with exactly one charge, payment, delivery and invoice', async () => {
    const res = await postJson(`${system.url}/pizza`, PIZZA);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };

    const order = await waitFor('the order to be delivered and invoiced', async () => {
      const o = await orderStatus(id);
      return o.status === 'delivered' && o.invoice ? o : undefined;
    });
    expect(order.total_cents).toBe(3998);
    expect(order.payment).toMatchObject({ amount_cents: 3998 });
    expect(order.delivery).toMatchObject({ courier: expect.any(String) });
    expect(order.invoice).toMatchObject({ amount_cents: 3998, number: expect.stringMatching(/^INV-\d{8}$/) });
    expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });

    const events = await ctx.sql<{ event_type: string; published: boolean; traceparent: string }[]>`
      SELECT event_type, published_at IS NOT NULL AS published, headers->>'traceparent' AS traceparent
      FROM outbox WHERE aggregate_id = ${id} ORDER BY created_at`;
    expect(events.map((e) => e.event_type)).toEqual(['order.created', 'order.paid', 'order.delivered']);
    await waitFor('every event of the order to be published', async () => {
      const [row] = await ctx.sql`SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = ${id} AND published_at IS NULL`;
      return row!.n === 0;
    });
    // One trace follows the order through every step.
    expect(new Set(events.map((e) => e.traceparent)).size).toBe(1);
  });

  it('keeps the trace id of the incoming request', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await postJson(`${system.url}/pizza`, PIZZA, { traceparent });
    const { id } = (await res.json()) as { id: string };
    const [row] = await ctx.sql`SELECT headers->>'traceparent' AS t FROM outbox WHERE aggregate_id = ${id}`;
    expect(row!.t).toBe(traceparent);
  });

  it('stores nothing for a body that fails validation', async () => {
    // Only an accepted order writes an order and its order.created event; the workers, still busy
    // with the orders of the tests above, write other events meanwhile.
    const counts = () => ctx.sql`
      SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM outbox WHERE event_type = 'order.created')::int AS events`;
    const before = await counts();
    const res = await postJson(`${system.url}/pizza`, { ...PIZZA, price: 19.999 });
    expect(res.status).toBe(400);
    expect(await counts()).toEqual(before);
  });
});

describe('GET /orders', () => {
  it('pages newest first with a cursor, and filters by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await postJson(`${system.url}/orders`, {
        customer_name: `Pager ${i}`,
        address: '9 Page St',
        items: [{ flavor: 'Funghi', size: 'medium', quantity: 1 + i, unit_price_cents: 1200 }],
      });
      ids.push(((await res.json()) as { id: string }).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await staffGet(system, `/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { orders: Array<{ id: string }>; next_cursor: string | null };
      seen.push(...page.orders.map((o) => o.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    const newestFive = seen.filter((id) => ids.includes(id));
    expect(newestFive).toEqual([...ids].reverse());

    await waitFor('the paged orders to be delivered', async () => {
      const [row] = await ctx.sql`SELECT count(*)::int AS n FROM orders WHERE id = ANY(${ids}::uuid[]) AND status = 'delivered'`;
      return row!.n === ids.length;
    });
    const delivered = (await (await staffGet(system, '/orders?status=delivered&limit=50')).json()) as { orders: Array<{ status: string }> };
    expect(delivered.orders.length).toBeGreaterThanOrEqual(5);
    expect(delivered.orders.every((o) => o.status === 'delivered')).toBe(true);
  });
});

describe('health and admin', () => {
  it('is ready when Postgres and Redis answer', async () => {
    const res = await fetch(`${system.url}/health/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
  });

  const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it.each([
    ['GET', '/admin/queues'],
    ['GET', '/admin/queues/api/queues'],
    ['PUT', '/admin/queues/api/queues/payments/obliterate'],
    ['PUT', '/admin/queues/api/queues/payments/retry/failed'],
    ['GET', '/admin'],
  ])('refuses %s %s without credentials and with wrong ones', async (method, path) => {
    expect((await fetch(`${system.url}${path}`, { method })).status).toBe(401);
    expect((await fetch(`${system.url}${path}`, { method, headers: auth('admin', 'wrong') })).status).toBe(401);
    expect((await fetch(`${system.url}${path}`, { method, headers: auth('root', TEST_ADMIN_PASSWORD) })).status).toBe(401);
  });

  it('shows the three queues to the operator', async () => {
    const page = await fetch(`${system.url}/admin/queues`, { headers: auth('admin', TEST_ADMIN_PASSWORD) });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const res = await fetch(`${system.url}/admin/queues/api/queues`, { headers: auth('admin', TEST_ADMIN_PASSWORD) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: Array<{ name: string }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['deliveries', 'invoices', 'payments']);
  });
});
