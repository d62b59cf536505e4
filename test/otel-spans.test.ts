// Real spans from the real OpenTelemetry SDK (NodeTracerProvider + InMemorySpanExporter, registered
// in this test process) around the whole system in-process: one order makes one trace — the HTTP
// server span, the relay's create/send spans, the consumers' process spans — with the semantic
// conventions' attributes, and a 5xx marks its server span as an error.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { postJson, startSystem, type RunningSystem } from './support/system.ts';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  provider.register(); // the global tracer provider, context manager and W3C propagator
  ctx = await createTestContext();
  system = await startSystem(ctx);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
  await provider.shutdown();
});

const ORDER = { customer_name: 'Otel', address: '1 Span St', items: [{ flavor: 'Funghi', size: 'small', quantity: 1, unit_price_cents: 900 }] };

const MISSING_ORDER = '/orders/00000000-0000-4000-8000-000000000000';
const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
}

describe('OpenTelemetry spans', () => {
  it('one POST /orders makes one trace: server span → create → process payments → create → process deliveries and invoices', async () => {
    const res = await postJson(`${system.url}/orders`, ORDER);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/orders')!;
    expect(server).toBeDefined();
    const traceId = server.spanContext().traceId;
    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    await waitFor('the deliveries and invoices jobs to be processed', () => ['process deliveries', 'process invoices'].every((n) => inTrace().some((s) => s.name === n)), 30_000);

    const spans = inTrace();
    expect(server.name).toBe('POST /orders');
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/orders', 'url.path': '/orders', 'http.response.status_code': 201 });
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);

    const createPayment = only(spans, 'create payments');
    const payment = only(spans, 'process payments');
    expect(createPayment.kind).toBe(SpanKind.PRODUCER);
    expect(parentId(createPayment)).toBe(spanId(server)); // the outbox row carried the request's span
    expect(parentId(payment)).toBe(spanId(createPayment)); // the job carried the relay's create span
    for (const queue of ['deliveries', 'invoices']) {
      const create = only(spans, `create ${queue}`);
      const processed = only(spans, `process ${queue}`);
      expect(parentId(create)).toBe(spanId(payment)); // order.paid was written in the payment's span
      expect(parentId(processed)).toBe(spanId(create));
      expect(create.attributes).toMatchObject({ 'messaging.system': 'bullmq', 'messaging.destination.name': queue, 'messaging.operation.type': 'create' });
    }

    const [outboxRow] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${id} AND event_type = 'order.created'`;
    expect(createPayment.attributes['messaging.message.id']).toBe(outboxRow!.id);
    for (const queue of ['payments', 'deliveries', 'invoices']) {
      const processed = only(spans, `process ${queue}`);
      expect(processed.kind).toBe(SpanKind.CONSUMER);
      expect(processed.attributes).toMatchObject({
        'messaging.system': 'bullmq',
        'messaging.destination.name': queue,
        'messaging.operation.type': 'process',
        'messaging.message.id': expect.any(String),
      });
    }
    expect(only(spans, 'process payments').attributes['messaging.message.id']).toBe(outboxRow!.id);

    // The relay's send span of each batch (its own trace: a batch carries many orders) links to
    // the create span of every job it added.
    const sends = exporter.getFinishedSpans().filter((s) => s.name === 'send payments');
    const send = sends.find((s) => s.links.some((l) => l.context.spanId === spanId(createPayment)));
    expect(send).toBeDefined();
    expect(send!.kind).toBe(SpanKind.CLIENT);
    expect(send!.attributes).toMatchObject({ 'messaging.system': 'bullmq', 'messaging.destination.name': 'payments', 'messaging.operation.type': 'send' });
    expect(send!.attributes['messaging.batch.message_count']).toBeGreaterThanOrEqual(1);
  });

  it('marks the server span of a 5xx as an error, though the error handler answered it', async () => {
    // A real fault below the route: the orders table is gone, so the read fails with a 500.
    await ctx.sql`ALTER TABLE orders RENAME TO orders_away`;
    try {
      const res = await fetch(`${system.url}${MISSING_ORDER}`);
      expect(res.status).toBe(500);
    } finally {
      await ctx.sql`ALTER TABLE orders_away RENAME TO orders`;
    }
    const span = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === MISSING_ORDER);
    expect(span).toBeDefined();
    expect(span!.name).toBe('GET /orders/:id');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes).toMatchObject({ 'http.route': '/orders/:id', 'http.response.status_code': 500, 'error.type': '500' });
  });

  it('names a 404 by its method only, with no route', async () => {
    const res = await fetch(`${system.url}/no/such/path`);
    expect(res.status).toBe(404);
    const span = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/no/such/path');
    expect(span).toMatchObject({ name: 'GET' });
    expect(span!.attributes['http.route']).toBeUndefined();
    expect(span!.status.code).not.toBe(SpanStatusCode.ERROR);
  });
});
