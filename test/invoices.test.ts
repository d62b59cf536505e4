// The invoice service in a database of its own (INVOICES_DATABASE_URL): it consumes order.paid
// from the order service's relay, keeps its invoices and its inbox in its own database, and trusts
// an event only when the producer's signature holds, since it cannot read the producer's outbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxJobData } from '../src/engine/index.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { PIZZA, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext({}, { separateInvoices: true });
  system = await startSystem(ctx);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

async function placeAndInvoice(): Promise<{ orderId: string; paidEventId: string }> {
  const res = await postJson(`${system.url}/pizza`, PIZZA);
  expect(res.status).toBe(201);
  const orderId = ((await res.json()) as { id: string }).id;
  await waitFor('the invoice', async () => (await ctx.invoicesSql`SELECT 1 FROM invoices WHERE order_id = ${orderId}`).length === 1);
  const [paid] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${orderId} AND event_type = 'order.paid'`;
  return { orderId, paidEventId: paid!.id };
}

describe('the invoice service with its own database', () => {
  it('bills each paid order once, in its own database, from the signed event alone', async () => {
    const orders = await Promise.all(Array.from({ length: 5 }, placeAndInvoice));
    const ids = orders.map((o) => o.orderId);
    const invoices = await ctx.invoicesSql<{ order_id: string; amount_cents: number; customer_name: string }[]>`
      SELECT order_id, amount_cents, customer_name FROM invoices WHERE order_id = ANY(${ids}::uuid[])`;
    expect(invoices).toHaveLength(5);
    for (const i of invoices) expect(i).toMatchObject({ amount_cents: 3998, customer_name: 'Alice' });
    // Its inbox is its own; the orders database has no invoices table at all.
    const inbox = await ctx.invoicesSql`SELECT 1 FROM processed_messages WHERE consumer = 'invoice' AND message_id = ANY(${orders.map((o) => o.paidEventId)}::uuid[])`;
    expect(inbox).toHaveLength(5);
    const [table] = await ctx.sql<{ t: string | null }[]>`SELECT to_regclass('invoices')::text AS t`;
    expect(table!.t).toBeNull();
  });

  it('refuses a forged and an altered job, naming why, and bills nothing for them', async () => {
    const { orderId, paidEventId } = await placeAndInvoice();
    const genuine = (await system.queues.invoices.getJob(paidEventId))!.data;
    const victim = crypto.randomUUID();
    const forged: OutboxJobData = {
      outboxId: crypto.randomUUID(),
      eventType: 'order.paid',
      aggregateType: 'order',
      aggregateId: victim,
      payload: { order_id: victim, amount_cents: 1 },
      headers: {},
    };
    const altered: OutboxJobData = {
      ...genuine,
      outboxId: crypto.randomUUID(),
      aggregateId: victim,
      payload: { ...(genuine.payload as object), order_id: victim, amount_cents: 1 },
    };
    const jobs = await Promise.all([forged, altered].map((data) => system.queues.invoices.add('order.paid', data, { attempts: 1 })));
    for (const job of jobs) await waitFor('the refused job to fail', async () => (await system.queues.invoices.getJobState(job.id!)) === 'failed');
    const reasons = await Promise.all(jobs.map(async (j) => (await system.queues.invoices.getJob(j.id!))!.failedReason));
    expect(reasons[0]).toContain('carries no signature');
    expect(reasons[1]).toContain('edited or forged');
    expect(await ctx.invoicesSql`SELECT 1 FROM invoices WHERE order_id = ${victim}`).toHaveLength(0);
    expect(await ctx.invoicesSql`SELECT 1 FROM invoices WHERE order_id = ${orderId}`).toHaveLength(1);
  });

  it('absorbs a replay of order.paid in its own inbox', async () => {
    const { orderId, paidEventId } = await placeAndInvoice();
    await waitFor('the replay to be accepted', async () => (await system.engine.operations.replay(paidEventId)).outcome === 'replayed');
    await waitFor('the replayed invoices job', async () => (await system.queues.invoices.getJob(paidEventId))?.returnvalue?.outcome === 'duplicate');
    expect(await ctx.invoicesSql`SELECT 1 FROM invoices WHERE order_id = ${orderId}`).toHaveLength(1);
  });
});
