// Replay and dead-letter handling, through the admin API and `npm run outbox`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from './support/context.ts';
import { startNode } from './support/processes.ts';
import { effectCounts, PIZZA, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;
const auth = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}` };

beforeAll(async () => {
  ctx = await createTestContext({ RELAY_MAX_ATTEMPTS: '1' });
  system = await startSystem(ctx);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

async function deliveredOrder(): Promise<{ orderId: string; createdEventId: string }> {
  const res = await postJson(`${system.url}/pizza`, PIZZA);
  const { id } = (await res.json()) as { id: string };
  await waitFor('the order to be delivered and invoiced', async () => (await effectCounts(ctx, id)).invoices === 1);
  const [event] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${id} AND event_type = 'order.created'`;
  await waitFor('the payment job to complete', async () => (await system.queues.payments.getJobState(event!.id)) === 'completed');
  return { orderId: id, createdEventId: event!.id };
}

const admin = (path: string, method = 'POST') => fetch(`${system.url}${path}`, { method, headers: auth });

describe('replay', () => {
  it('publishes a processed event again through the API; the inbox absorbs it', async () => {
    const { orderId, createdEventId } = await deliveredOrder();
    const first = await system.queues.payments.getJob(createdEventId);
    const res = await admin(`/admin/outbox/${createdEventId}/replay`);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ outcome: 'replayed', removed_jobs: [`payments/${createdEventId}`] });
    await waitFor('the replayed job to complete', async () => {
      const job = await system.queues.payments.getJob(createdEventId);
      return job && job.timestamp !== first!.timestamp && (await job.getState()) === 'completed' ? job : undefined;
    });
    const job = await system.queues.payments.getJob(createdEventId);
    expect(job!.returnvalue).toEqual({ outcome: 'duplicate' });
    expect(await effectCounts(ctx, orderId)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
  });

  it('does the same from the command line', async () => {
    const { orderId, createdEventId } = await deliveredOrder();
    const cli = startNode('src/outbox-admin/cli.ts', ctx.env, ['replay', createdEventId]);
    const exit = await cli.exited;
    expect(cli.output()).toContain(`replayed ${createdEventId}`);
    expect(exit.code).toBe(0);
    await waitFor('the replayed job to be absorbed as a duplicate', async () => {
      const job = await system.queues.payments.getJob(createdEventId);
      return job?.returnvalue?.outcome === 'duplicate';
    });
    expect(await effectCounts(ctx, orderId)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
  });

  it('replays every published event of a type in a time range from the command line, with progress', async () => {
    const since = new Date(Date.now() - 1000); // the database's clock may lead ours a little
    const orders = [await deliveredOrder(), await deliveredOrder()];
    const cli = startNode('src/outbox-admin/cli.ts', ctx.env, ['replay', '--type', 'order.created', '--since', since.toISOString()]);
    const exit = await cli.exited;
    expect(exit.code, cli.output()).toBe(0);
    // Rows of earlier tests in this file may fall in the range too: at least our two are replayed.
    const done = /(\d+) of (\d+) replayed/.exec(cli.output());
    expect(Number(done?.[1])).toBeGreaterThanOrEqual(2);
    expect(cli.output()).toMatch(/\d+\/\d+ done: \d+ replayed/);
    for (const { orderId, createdEventId } of orders) {
      await waitFor('the replayed job to be absorbed as a duplicate', async () => (await system.queues.payments.getJob(createdEventId))?.returnvalue?.outcome === 'duplicate');
      expect(await effectCounts(ctx, orderId)).toEqual({ charges: 1, payments: 1, deliveries: 1, invoices: 1 });
    }
  });

  it('refuses a bulk replay of an unknown type or without --since, naming what to fix', async () => {
    const unknown = startNode('src/outbox-admin/cli.ts', ctx.env, ['replay', '--type', 'order.teleported', '--since', new Date().toISOString()]);
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.output()).toContain('is not an event type of this service');
    const noSince = startNode('src/outbox-admin/cli.ts', ctx.env, ['replay', '--type', 'order.created']);
    expect((await noSince.exited).code).toBe(2);
    expect(noSince.output()).toContain('needs --since');
  });

  it('answers 404 for an unknown id, 400 for a malformed one, 409 for a dead row', async () => {
    expect((await admin(`/admin/outbox/${randomUUID()}/replay`)).status).toBe(404);
    expect((await admin('/admin/outbox/not-a-uuid/replay')).status).toBe(400);
    const dead = await deadRow();
    const res = await admin(`/admin/outbox/${dead}/replay`);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { detail: string }).detail).toContain('requeue');
  });
});

async function deadRow(): Promise<string> {
  const id = randomUUID();
  await ctx.sql`INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES (${id}, 'order', gen_random_uuid(), 'order.teleported', '{}')`;
  system.relay!.wake();
  await waitFor('the poison row to be dead', async () => (await ctx.sql`SELECT 1 FROM outbox WHERE id = ${id} AND dead_at IS NOT NULL`).length === 1);
  return id;
}

describe('dead letters', () => {
  it('lists dead rows with age, attempts and last error, and requeues one for a fresh try', async () => {
    const id = await deadRow();
    const list = await admin('/admin/outbox?state=dead', 'GET');
    expect(list.status).toBe(200);
    const { rows } = (await list.json()) as { rows: Array<{ id: string; attempts: number; last_error: string; age_seconds: number }> };
    const row = rows.find((r) => r.id === id);
    expect(row).toMatchObject({ attempts: 1, last_error: expect.stringContaining('no route for event type') });
    expect(row!.age_seconds).toBeGreaterThanOrEqual(0);

    const [before] = await ctx.sql<{ dead_at: Date }[]>`SELECT dead_at FROM outbox WHERE id = ${id}`;
    const requeue = await admin(`/admin/outbox/${id}/requeue`);
    expect(requeue.status).toBe(202);
    // Still unroutable, so the relay tries it once more and it dies again, later than before.
    await waitFor('the requeued row to be tried again', async () => {
      const [after] = await ctx.sql<{ dead_at: Date | null; attempts: number }[]>`SELECT dead_at, attempts FROM outbox WHERE id = ${id}`;
      return after!.dead_at !== null && after!.dead_at > before!.dead_at && after!.attempts === 1;
    });
    expect((await admin(`/admin/outbox/${randomUUID()}/requeue`)).status).toBe(404);
  });

  it('lists rows still to publish, and refuses to requeue a live row', async () => {
    const { createdEventId } = await deliveredOrder();
    const res = await admin(`/admin/outbox/${createdEventId}/requeue`);
    expect(res.status).toBe(409);
    const pending = await admin('/admin/outbox?state=pending', 'GET');
    expect(pending.status).toBe(200);
    expect((await admin('/admin/outbox?state=lost', 'GET')).status).toBe(400);
  });

  it.each([
    ['GET', '/admin/outbox?state=dead'],
    ['POST', `/admin/outbox/${randomUUID()}/replay`],
    ['POST', `/admin/outbox/${randomUUID()}/requeue`],
  ])('refuses %s %s without the right credentials', async (method, path) => {
    expect((await fetch(`${system.url}${path}`, { method })).status).toBe(401);
    const wrong = { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` };
    expect((await fetch(`${system.url}${path}`, { method, headers: wrong })).status).toBe(401);
  });
});
