// What operators scrape and read: /metrics in the Prometheus text format, the OpenAPI document,
// the API reference, security headers and CORS.
import { createServer } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from './support/context.ts';
import { PIZZA, postJson, staffGet, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext();
  system = await startSystem(ctx);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

// The text format line by line (https://prometheus.io/docs/instrumenting/exposition_formats/).
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABELS = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*\\}`;
// Values are parsed like Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes "Nan").
const VALUE = '(?:[+-]?(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)|[+-]?[Ii][Nn][Ff]|[Nn][Aa][Nn])';
const SAMPLE = new RegExp(`^${NAME}(?:${LABELS})? ${VALUE}(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP ${NAME} .*$`);
const TYPE = new RegExp(`^# TYPE ${NAME} (counter|gauge|histogram|summary|untyped)$`);

function checkExpositionFormat(text: string): void {
  const bad = text.split('\n').filter((line) => line !== '' && !SAMPLE.test(line) && !HELP.test(line) && !TYPE.test(line));
  expect(bad).toEqual([]);
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  types: Map<string, string>;
  samples: Sample[];
}

// The API's /metrics wants the staff credentials (HTTP Basic); a relay's or worker's METRICS_PORT
// ignores them.
const STAFF = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}` };

async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url, { headers: STAFF });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  checkExpositionFormat(text);
  // A second, independent parser must accept it too (it keeps no histogram labels, hence our own below).
  const families = parsePrometheusTextFormat(text) as Array<{ name: string; type: string }>;
  const types = new Map(families.map((f) => [f.name, f.type]));
  const samples = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [, name, labelText = '', value] = /^([^{ ]+)(?:\{(.*)\})? (\S+)/.exec(line)!;
      const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: name!, labels, value: Number(value) };
    });
  return { types, samples };
}

const sum = (s: Scrape, name: string, match: Record<string, string> = {}) =>
  s.samples.filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v)).reduce((t, x) => t + x.value, 0);

describe('/metrics', () => {
  it('passes the exposition-format check and reports HTTP, outbox, job and end-to-end figures', async () => {
    const res = await postJson(`${system.url}/pizza`, PIZZA);
    const { id } = (await res.json()) as { id: string };
    await staffGet(system, `/orders/${id}`);
    await waitFor('the order to be delivered', async () => (await ctx.sql`SELECT 1 FROM orders WHERE id = ${id} AND status = 'delivered'`).length === 1);
    await waitFor('the invoice job to be counted', async () => sum(await scrape(`${system.url}/metrics`), 'jobs_completed_total', { queue: 'invoices' }) >= 1);

    const m = await scrape(`${system.url}/metrics`);
    expect(m.types.get('http_request_duration_seconds')).toBe('HISTOGRAM');
    expect(sum(m, 'http_request_duration_seconds_count', { method: 'POST', route: '/pizza', status: '201' })).toBeGreaterThanOrEqual(1);
    // The route pattern, never the id itself, so the label set stays small.
    expect(sum(m, 'http_request_duration_seconds_count', { method: 'GET', route: '/orders/:id', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(m.samples.some((x) => Object.values(x.labels).some((v) => v.includes(id)))).toBe(false);

    expect(sum(m, 'outbox_published_total')).toBeGreaterThanOrEqual(2); // order.created and order.paid (order.delivered is routed nowhere)
    for (const name of ['outbox_pending_rows', 'outbox_dead_rows', 'outbox_oldest_pending_age_seconds']) expect(m.types.get(name)).toBe('GAUGE');
    expect(sum(m, 'relay_batch_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    for (const queue of ['payments', 'deliveries', 'invoices']) {
      expect(sum(m, 'jobs_completed_total', { queue, outcome: 'done' })).toBeGreaterThanOrEqual(1);
      expect(sum(m, 'job_processing_duration_seconds_count', { queue })).toBeGreaterThanOrEqual(1);
    }
    expect(sum(m, 'order_created_to_delivered_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('is served on METRICS_PORT by a relay running alone, and a taken port does not stop it', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    const relay = await startSystem(ctx, ['relay'], loadConfig({ ...ctx.env, METRICS_PORT: String(port) }));
    try {
      const m = await scrape(`http://127.0.0.1:${relay.metricsPort()}/metrics`);
      expect(relay.metricsPort()).not.toBe(port);
      expect(m.types.get('outbox_pending_rows')).toBe('GAUGE');
    } finally {
      await relay.stop();
      blocker.close();
    }
  });
});

describe('the API description', () => {
  it('serves an OpenAPI 3.1 document that a standard validator accepts', async () => {
    const res = await fetch(`${system.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/orders', '/pizza', '/orders/{id}', '/health/ready', '/admin/outbox']));
  });

  it('names every operation with an operationId of its own, for generated clients', async () => {
    const doc = (await (await fetch(`${system.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ at: `${method} ${path}`, id: op.operationId })));
    expect(operations.filter((o) => !o.id).map((o) => o.at)).toEqual([]);
    expect(new Set(operations.map((o) => o.id)).size).toBe(operations.length);
  });

  it('serves an interactive reference at /docs', async () => {
    const res = await fetch(`${system.url}/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('/openapi.json');
  });
});

describe('HTTP hygiene', () => {
  it('sends security headers on every response, errors included', async () => {
    for (const res of [await fetch(`${system.url}/health/live`), await fetch(`${system.url}/nope`), await postJson(`${system.url}/pizza`, {})]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('keeps CORS off unless origins are configured', async () => {
    const res = await fetch(`${system.url}/orders`, { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
