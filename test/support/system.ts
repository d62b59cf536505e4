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
