// Starts the same composition root the entry files use, with a test's own config.
import type { Config } from '../../src/config.ts';
import { createSystem, type Role, type System } from '../../src/system.ts';
import type { TestContext } from './context.ts';

export interface RunningSystem extends System {
  url: string;
}

export async function startSystem(ctx: TestContext, roles: readonly Role[] = ['api', 'relay', 'workers'], config: Config = ctx.config): Promise<RunningSystem> {
  const system = createSystem(config, ctx.log, roles);
  await system.start();
  return Object.assign(system, { url: `http://127.0.0.1:${system.port()}` });
}

export const PIZZA = { flavor: 'Pepperoni', size: 'Large', quantity: 2, price: 19.99, address: '123 Main St', user_name: 'Alice' };

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

// Counts of every effect row for one order: the oracle for "exactly once".
export async function effectCounts(ctx: TestContext, orderId: string) {
  const [row] = await ctx.sql<{ charges: number; payments: number; deliveries: number; invoices: number }[]>`
    SELECT
      (SELECT count(*) FROM gateway_charges WHERE order_id = ${orderId})::int AS charges,
      (SELECT count(*) FROM payments WHERE order_id = ${orderId})::int AS payments,
      (SELECT count(*) FROM deliveries WHERE order_id = ${orderId})::int AS deliveries`;
  const [invoices] = await ctx.invoicesSql<{ n: number }[]>`SELECT count(*)::int AS n FROM invoices WHERE order_id = ${orderId}`;
  return { ...row!, invoices: invoices!.n };
}

// Staff HTTP Basic (ADMIN_USER is the default `admin` in tests): GET /orders lists all orders
// only for staff, and GET /orders/:id reads any order for them.
export function staffHeaders(system: { adminPassword: string }, user = 'admin'): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${system.adminPassword}`).toString('base64')}` };
}

// GET as staff.
export function staffGet(system: { url: string; adminPassword: string }, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${system.url}${path}`, { ...init, headers: { ...staffHeaders(system), ...(init.headers as Record<string, string> | undefined) } });
}

// A menu entry of a test's own (the API reads an entry it does not know at once), for a test that
// needs a price the seeded menu does not have.
export async function addMenuEntry(sql: import('../../src/db/client.ts').Sql, flavor: string, size: 'small' | 'medium' | 'large', priceCents: number): Promise<void> {
  await sql`INSERT INTO menu (flavor, size, price_cents) VALUES (${flavor}, ${size}, ${priceCents}) ON CONFLICT (flavor, size) DO UPDATE SET price_cents = EXCLUDED.price_cents`;
}

// A new customer (POST /users) and a bearer token for them (POST /users/login).
export async function newCustomer(
  url: string,
  email = `c-${crypto.randomUUID()}@example.com`,
  password = 'a long enough passphrase',
): Promise<{ id: string; email: string; token: string; headers: Record<string, string> }> {
  const created = await postJson(`${url}/users`, { email, password });
  if (created.status !== 201) throw new Error(`POST /users answered ${created.status}: ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const login = await postJson(`${url}/users/login`, { email, password });
  if (login.status !== 200) throw new Error(`POST /users/login answered ${login.status}: ${await login.text()}`);
  const { access_token: token } = (await login.json()) as { access_token: string };
  return { id, email, token, headers: { authorization: `Bearer ${token}` } };
}

// The orders of one customer name and their outbox events: "one order, one event" in idempotency tests.
export async function ordersAndEventsOf(ctx: TestContext, customer: string) {
  const [row] = await ctx.sql<{ orders: number; events: number }[]>`
    SELECT (SELECT count(*) FROM orders WHERE customer_name = ${customer})::int AS orders,
           (SELECT count(*) FROM outbox o JOIN orders r ON r.id = o.aggregate_id WHERE r.customer_name = ${customer})::int AS events`;
  return row!;
}
