// Tracing turned on by OpenTelemetry's standard environment sends the spans of a real order over
// OTLP/HTTP to a tiny receiver in this test: the SDK's own exporter, endpoint and service name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type Tracing, tracesExporters } from '../src/telemetry.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver.ts';
import { postJson, startSystem, type RunningSystem } from './support/system.ts';

let receiver: OtlpReceiver;
let tracing: Tracing | undefined;
let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // This file's own process (the forks pool): the SDK reads these itself.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_SERVICE_NAME = 'pizza-otlp-test';
  tracing = await startTracing('api,relay,workers', { OTEL_TRACES_EXPORTER: 'otlp' });
  ctx = await createTestContext();
  system = await startSystem(ctx);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
  await tracing?.shutdown();
  await receiver?.close();
});

describe('OTEL_TRACES_EXPORTER=otlp', () => {
  it('exports the spans of an order to the OTLP/HTTP endpoint, under OTEL_SERVICE_NAME', async () => {
    const ORDER = { customer_name: 'Otlp', address: '1 Export St', items: [{ flavor: 'Funghi', size: 'small', quantity: 1, unit_price_cents: 900 }] };
    expect((await postJson(`${system.url}/orders`, ORDER)).status).toBe(201);
    const names = () => receiver.spans().map((s) => s.name);
    await waitFor(
      'the order’s spans to reach the receiver',
      async () => {
        // The batch processor exports every few seconds; flush each round instead of waiting.
        await tracing!.flush();
        return ['POST /orders', 'create payments', 'process payments', 'process invoices'].every((n) => names().includes(n));
      },
      30_000,
    );
    expect(receiver.requests[0]).toMatchObject({ path: '/v1/traces', contentType: expect.stringContaining('application/json') });
    const server = receiver.spans().find((s) => s.name === 'POST /orders')!;
    expect(server.resource).toMatchObject({ 'service.name': 'pizza-otlp-test', 'service.version': '0.1.0', 'pizza_outbox.role': 'api,relay,workers' });
    const sameTrace = receiver
      .spans()
      .filter((s) => s.traceId === server.traceId)
      .map((s) => s.name);
    expect(sameTrace).toEqual(expect.arrayContaining(['create payments', 'process payments']));
  });
});

describe('tracesExporters', () => {
  it('is off by default and with none or OTEL_SDK_DISABLED, and names a value it does not know', () => {
    expect(tracesExporters({})).toEqual([]);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'none' })).toEqual([]);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' })).toEqual([]);
    expect(tracesExporters({ OTEL_TRACES_EXPORTER: 'otlp, console,otlp' })).toEqual(['otlp', 'console']);
    expect(() => tracesExporters({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER: "jaeger"/);
  });
});
