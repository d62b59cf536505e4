// Workers against real Postgres and Redis: declines, retries that run out, duplicates the inbox
// absorbs, and jobs that lie about their order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { addMenuEntry, effectCounts, postJson, startSystem, type RunningSystem } from './support/system.ts';

// Prices come from the menu: an order of `totalCents` is that many cents' worth of a 500-cent entry
// of the test's own (added before each system starts, so the API's first read of the menu has it).
const SPECIAL = { flavor: 'Worker Special', size: 'large', cents: 500 } as const;
const addSpecial = (ctx: TestContext) => addMenuEntry(ctx.sql, SPECIAL.flavor, SPECIAL.size, SPECIAL.cents);

function order(totalCents: number, name = 'Worker test') {
  return { customer_name: name, address: '2 Queue Ln', items: [{ flavor: SPECIAL.flavor, size: SPECIAL.size, quantity: totalCents / SPECIAL.cents }] };
}

async function place(system: RunningSystem, body: unknown): Promise<string> {
  const res = await postJson(`${system.url}/orders`, body);
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function statusOf(ctx: TestContext, id: string): Promise<string | undefined> {
  const [row] = await ctx.sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${id}`;
  return row?.status;
}

async function createdEventOf(ctx: TestContext, orderId: string): Promise<string> {
  const [row] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${orderId} AND event_type = 'order.created'`;
  return row!.id;
}

describe('with a gateway that declines orders over $50', () => {
  let ctx: TestContext;
  let system: RunningSystem;
  beforeAll(async () => {
    ctx = await createTestContext({ GATEWAY_DECLINE_OVER_CENTS: '5000', JOB_ATTEMPTS: '4' });
    await addSpecial(ctx);
    system = await startSystem(ctx);
  });
  afterAll(async () => {
    await system?.stop();
    await ctx?.cleanup();
  });

  it('ends a declined order in payment_failed with one failed job and no retries', async () => {
    const id = await place(system, order(6000));
    await waitFor('the order to fail payment', async () => (await statusOf(ctx, id)) === 'payment_failed');
    const jobId = await createdEventOf(ctx, id);
    await waitFor('the job to reach the failed set', async () => (await system.queues.payments.getJobState(jobId)) === 'failed');
    const failed = await system.queues.payments.getJob(jobId);
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toContain('card declined');
    expect(await effectCounts(ctx, id)).toEqual({ charges: 0, payments: 0, deliveries: 0, invoices: 0 });
    const events = await ctx.sql`SELECT event_type FROM outbox WHERE aggregate_id = ${id} ORDER BY created_at`;
    expect(events.map((e) => e.event_type)).toEqual(['order.created', 'order.payment_failed']);
  });

  it('absorbs a re-published event after its job left Redis: the inbox decides, no second effect', async () => {
    const id = await place(system, order(1500));
    await waitFor('the order to be delivered', async () => (await statusOf(ctx, id)) === 'delivered');
    const eventId = await createdEventOf(ctx, id);
    await waitFor('the payment job to complete', async () => (await system.queues.payments.getJobState(eventId)) === 'completed');
    expect((await system.queues.payments.getJob(eventId))!.returnvalue).toMatchObject({ outcome: 'done' });

    // Past the dedupe window: the completed job is gone and the row is published again.
    await (await system.queues.payments.getJob(eventId))!.remove();
    await ctx.sql`UPDATE outbox SET published_at = NULL WHERE id = ${eventId}`;
    system.relay!.wake();

    await waitFor('the re-published job to complete', async () => (await system.queues.payments.getJobState(eventId)) === 'completed');
    const rerun = (await system.queues.payments.getJob(eventId))!;
    expect(rerun.returnvalue).toMatchObject({ outcome: 'duplicate' });
    expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
  });

  it('trusts the database, not the job: a forged job for a real order changes nothing', async () => {
    const id = await place(system, order(1000));
    await waitFor('the order to be delivered', async () => (await statusOf(ctx, id)) === 'delivered');
    const forged = await system.queues.payments.add(
      'order.created',
      { outboxId: crypto.randomUUID(), eventType: 'order.created', aggregateId: id, payload: { total_cents: 1 }, headers: {} },
      { attempts: 1 },
    );
    await waitFor('the forged job to fail', async () => (await system.queues.payments.getJobState(forged.id!)) === 'failed');
    const failed = await system.queues.payments.getJob(forged.id!);
    expect(failed!.failedReason).toContain('was not added by the relay');
    expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
  });
});

describe('with a gateway that always times out', () => {
  let ctx: TestContext;
  let system: RunningSystem;
  beforeAll(async () => {
    ctx = await createTestContext({ GATEWAY_FAILURE_RATE: '1', JOB_ATTEMPTS: '3' });
    await addSpecial(ctx);
    system = await startSystem(ctx);
  });
  afterAll(async () => {
    await system?.stop();
    await ctx?.cleanup();
  });

  it('retries with backoff, then moves the order to payment_failed and keeps the job in the failed set', async () => {
    const id = await place(system, order(2000));
    await waitFor('the order to fail payment', async () => (await statusOf(ctx, id)) === 'payment_failed');
    const jobId = await createdEventOf(ctx, id);
    await waitFor('the job to reach the failed set', async () => (await system.queues.payments.getJobState(jobId)) === 'failed');
    const job = (await system.queues.payments.getJob(jobId))!;
    expect(job.attemptsMade).toBe(3);
    expect(job.failedReason).toContain('timed out (simulated)');
    expect(await effectCounts(ctx, id)).toEqual({ charges: 0, payments: 0, deliveries: 0, invoices: 0 });
  });
});

describe('an operator retrying a failed payment from Bull Board', () => {
  let ctx: TestContext;
  const systems: RunningSystem[] = [];
  beforeAll(async () => {
    ctx = await createTestContext({ GATEWAY_FAILURE_RATE: '1', JOB_ATTEMPTS: '1' });
    await addSpecial(ctx);
  });
  afterAll(async () => {
    for (const s of systems) await s.stop();
    await ctx?.cleanup();
  });

  it('gets the order paid and delivered once the gateway is back, with one charge', async () => {
    const down = await startSystem(ctx);
    systems.push(down);
    const id = await place(down, order(2500));
    await waitFor('the order to fail payment', async () => (await statusOf(ctx, id)) === 'payment_failed');
    const jobId = await createdEventOf(ctx, id);
    await waitFor('the job to reach the failed set', async () => (await down.queues.payments.getJobState(jobId)) === 'failed');
    await down.stop();

    // The gateway is back: the same service restarted without the failure knob.
    const up = await startSystem(ctx, ['api', 'relay', 'workers'], loadConfig({ ...ctx.env, GATEWAY_FAILURE_RATE: '0' }));
    systems.push(up);

    const auth = `Basic ${Buffer.from(`admin:${ctx.config.ADMIN_PASSWORD}`).toString('base64')}`;
    const res = await fetch(`${up.url}/admin/queues/api/queues/payments/${jobId}/retry`, { method: 'PUT', headers: { authorization: auth } });
    expect(res.status).toBe(204);

    await waitFor('the retried order to be delivered', async () => (await statusOf(ctx, id)) === 'delivered');
    await waitFor('the invoice', async () => (await effectCounts(ctx, id)).invoices === 1);
    expect(await effectCounts(ctx, id)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
    const events = await ctx.sql`SELECT event_type FROM outbox WHERE aggregate_id = ${id} ORDER BY created_at`;
    expect(events.map((e) => e.event_type)).toEqual(['order.created', 'order.payment_failed', 'order.paid', 'order.delivered']);
  });
});
