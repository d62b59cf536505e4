// Guarantee 1 through the API: an order and its event commit together or not at all. The outbox is
// made to refuse order.created rows; the order insert of the same statement must go with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from './support/context.ts';
import { postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext();
  system = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

describe('an order whose event cannot be written', () => {
  it('answers 5xx and stores no order', async () => {
    const name = `Atomic ${crypto.randomUUID()}`;
    const body = { customer_name: name, address: '1 Commit St', items: [{ flavor: 'Margherita', size: 'small', quantity: 1, unit_price_cents: 900 }] };
    await ctx.sql`ALTER TABLE outbox ADD CONSTRAINT refuse_created CHECK (event_type <> 'order.created') NOT VALID`;
    const refused = await postJson(`${system.url}/orders`, body);
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect(await ctx.sql`SELECT 1 FROM orders WHERE customer_name = ${name}`).toHaveLength(0);

    // The same request succeeds once the outbox takes the event again: both rows, together.
    await ctx.sql`ALTER TABLE outbox DROP CONSTRAINT refuse_created`;
    const placed = await postJson(`${system.url}/orders`, body);
    expect(placed.status).toBe(201);
    const id = ((await placed.json()) as { id: string }).id;
    expect(await ctx.sql`SELECT 1 FROM outbox WHERE aggregate_id = ${id} AND event_type = 'order.created'`).toHaveLength(1);
  });
});
