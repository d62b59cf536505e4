// One trace id follows an order through the logs of every role, each running as its own process
// (the scale-out layout: start:api, start:relay, start:worker).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { freePort, startNode, type Child } from './support/processes.ts';
import { effectCounts, PIZZA, postJson } from './support/system.ts';

let ctx: TestContext;
const roles: Record<'api' | 'relay' | 'worker', Child | undefined> = { api: undefined, relay: undefined, worker: undefined };
let apiUrl: string;

beforeAll(async () => {
  ctx = await createTestContext();
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const env = { ...ctx.env, LOG_LEVEL: 'debug' };
  roles.api = startNode('src/api/main.ts', { ...env, PORT: String(port) });
  roles.relay = startNode('src/relay/main.ts', env);
  roles.worker = startNode('src/workers/main.ts', env);
  for (const [name, child] of Object.entries(roles)) {
    await waitFor(`the ${name} process to start`, () => child!.output().includes('"msg":"started"'), 30_000);
  }
});

afterAll(async () => {
  const children = Object.values(roles).filter((c): c is Child => c !== undefined);
  for (const child of children) child.kill('SIGTERM');
  await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((r) => setTimeout(r, 10_000))]);
  for (const child of children) child.kill('SIGKILL');
  await ctx?.cleanup();
});

function linesWith(child: Child, traceId: string): Array<{ msg: string; [key: string]: unknown }> {
  return child
    .output()
    .split('\n')
    .filter((line) => line.includes(traceId))
    .map((line) => JSON.parse(line) as { msg: string });
}

describe('a trace id', () => {
  it('follows one order from the HTTP request through relay, payment, delivery and invoice', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await postJson(`${apiUrl}/pizza`, PIZZA, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await waitFor('the order to be delivered and invoiced', async () => (await effectCounts(ctx, id)).invoices === 1 && (await effectCounts(ctx, id)).deliveries === 1);

    await waitFor('the worker to log all three steps', () => linesWith(roles.worker!, traceId).length >= 3);
    // order.delivered is routed nowhere: the relay publishes it to no queue, on its next claim
    // (a worker wakes the relay only for events some queue consumes).
    await waitFor('the relay to publish all three events', () => linesWith(roles.relay!, traceId).length >= 3);

    const api = linesWith(roles.api!, traceId);
    expect(api).toEqual([expect.objectContaining({ msg: 'order placed', order_id: id, trace_id: traceId, outbox_id: expect.any(String) })]);

    const relay = linesWith(roles.relay!, traceId);
    expect(relay.map((l) => l.event_type).sort()).toEqual(['order.created', 'order.delivered', 'order.paid']);
    expect(relay.every((l) => l.order_id === id)).toBe(true);

    const worker = linesWith(roles.worker!, traceId);
    expect(worker.map((l) => l.msg).sort()).toEqual(['delivery done', 'invoice done', 'payment done']);
    expect(worker.every((l) => l.order_id === id && typeof l.outbox_id === 'string')).toBe(true);

    const [row] = await ctx.sql`SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = ${id} AND headers->>'traceparent' LIKE ${`00-${traceId}-%`}`;
    expect(row!.n).toBe(3);
  });
});
