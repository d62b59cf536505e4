// The scale-out layout with tracing on through the standard environment: api, relay and worker
// each as its own process, each exporting over OTLP/HTTP to a tiny receiver in this test. One
// order is one trace across the three: the API's server span, the relay's create span, the
// worker's process span, and on through the next events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { attribute, startOtlpReceiver, type OtlpReceiver, type OtlpSpan } from './support/otlp-receiver.ts';
import { freePort, startNode, type Child } from './support/processes.ts';
import { postJson } from './support/system.ts';

let ctx: TestContext;
let receiver: OtlpReceiver;
const roles: Record<'api' | 'relay' | 'worker', Child | undefined> = { api: undefined, relay: undefined, worker: undefined };
let apiUrl: string;

beforeAll(async () => {
  ctx = await createTestContext();
  receiver = await startOtlpReceiver();
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  // Exported within 100 ms of ending, not the batch processor's default 5 s.
  const env = { ...ctx.env, LOG_LEVEL: 'info', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
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
  await receiver?.close();
  await ctx?.cleanup();
});

describe('traces across processes', () => {
  it('make one tree of one order from the API through the relay to the workers', async () => {
    const ORDER = { customer_name: 'Procs', address: '1 Trace St', items: [{ flavor: 'Funghi', size: 'small', quantity: 1, unit_price_cents: 900 }] };
    expect((await postJson(`${apiUrl}/orders`, ORDER)).status).toBe(201);
    const server = await waitFor('the server span', () => receiver.spans().find((s) => s.name === 'POST /orders'));
    const inTrace = () => receiver.spans().filter((s) => s.traceId === server.traceId);
    const one = (name: string): OtlpSpan | undefined => inTrace().find((s) => s.name === name);
    // Every span the checks read: each process exports on its own schedule, so a worker's
    // `process` span can reach the receiver before the relay's `create` span that is its parent.
    const names = ['create payments', 'process payments', 'create deliveries', 'process deliveries', 'create invoices', 'process invoices'];
    await waitFor('every span of the order', () => names.every((name) => one(name)), 30_000);

    expect(server.resource['pizza_outbox.role']).toBe('api');
    const createPayment = one('create payments')!;
    const payment = one('process payments')!;
    expect(createPayment.resource['pizza_outbox.role']).toBe('relay');
    expect(payment.resource['pizza_outbox.role']).toBe('workers');
    expect(createPayment.parentSpanId).toBe(server.spanId);
    expect(payment.parentSpanId).toBe(createPayment.spanId);
    for (const queue of ['deliveries', 'invoices']) {
      const create = one(`create ${queue}`)!;
      expect(create.parentSpanId).toBe(payment.spanId);
      expect(one(`process ${queue}`)!.parentSpanId).toBe(create.spanId);
    }
    expect(attribute(server, 'http.route')).toBe('/orders');
    expect(attribute(payment, 'messaging.destination.name')).toBe('payments');
  });
});
