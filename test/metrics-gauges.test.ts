// What an operator alerts on, scraped from the real servers: queue depth read from BullMQ, the
// outbox lag on the API (it stays when every relay is down), a poison row as itself, failures
// counted by rows, each role's own metrics, the /metrics and 404 route labels, build_info, and
// Prometheus's own promtool accepting every scrape.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from './support/context.ts';
import { postJson, startSystem, type RunningSystem } from './support/system.ts';

const run = promisify(execFile);
const PROM_CLIENT_DEFAULTS = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
let ctx: TestContext;
let api: RunningSystem;
const ORDER = { customer_name: 'Gauge', address: '1 Scrape St', items: [{ flavor: 'Funghi', size: 'small', quantity: 1, unit_price_cents: 900 }] };

beforeAll(async () => {
  // A poison row fails fast and dies on its third attempt.
  ctx = await createTestContext({ RELAY_RETRY_BASE_MS: '10', RELAY_MAX_ATTEMPTS: '3' });
  api = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  await api?.stop();
  await ctx?.cleanup();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// The API's /metrics is for staff (HTTP Basic, like /admin); a relay's or worker's METRICS_PORT is
// not on the public API.
const STAFF = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}` };

async function scrapeText(url: string): Promise<string> {
  const res = await fetch(url, { headers: STAFF });
  expect(res.status).toBe(200);
  return res.text();
}

async function scrape(url: string): Promise<{ text: string; samples: Sample[]; families: Set<string> }> {
  const text = await scrapeText(url);
  const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  const samples = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [, name, labelText = '', value] = /^([^{ ]+)(?:\{(.*)\})? (\S+)/.exec(line)!;
      const labels = Object.fromEntries([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: name!, labels, value: Number(value) };
    });
  return { text, samples, families };
}

// The one sample of `name` with these labels, or undefined.
function value(s: { samples: Sample[] }, name: string, labels: Record<string, string> = {}): number | undefined {
  return s.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
}

const apiMetrics = () => scrape(`${api.url}/metrics`);
const roleMetrics = (system: RunningSystem) => scrape(`http://127.0.0.1:${system.metricsPort()}/metrics`);

async function placeOrders(n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await postJson(`${api.url}/orders`, ORDER)).status).toBe(201);
}

describe('queue depth and the outbox lag', () => {
  it('shows 20 payments jobs waiting while no worker runs, on the API and on the relay', async () => {
    const relay = await startSystem(ctx, ['relay']);
    try {
      await placeOrders(20);
      const m = await waitFor('20 payments jobs waiting on the API', async () => {
        const s = await apiMetrics();
        return value(s, 'bullmq_jobs', { queue: 'payments', state: 'waiting' }) === 20 && s;
      });
      expect(value(m, 'bullmq_jobs', { queue: 'payments', state: 'active' })).toBe(0);
      expect(value(m, 'bullmq_jobs', { queue: 'deliveries', state: 'waiting' })).toBe(0);
      expect(value(m, 'bullmq_workers', { queue: 'payments' })).toBe(0);
      expect(value(m, 'redis_up')).toBe(1);
      const r = await roleMetrics(relay);
      expect(value(r, 'bullmq_jobs', { queue: 'payments', state: 'waiting' })).toBe(20);
    } finally {
      await relay.stop();
    }
  });

  it('keeps outbox_pending_rows and the lag on the API with every relay stopped', async () => {
    await placeOrders(3);
    // Readings are cached for a second: wait for one taken after these orders.
    const m = await waitFor('the three orders pending and the lag past zero', async () => {
      const s = await apiMetrics();
      return value(s, 'outbox_pending_rows') === 3 && (value(s, 'outbox_oldest_pending_age_seconds') ?? 0) > 0 && s;
    });
    expect(value(m, 'outbox_pending_rows')).toBe(3);
    expect(value(m, 'outbox_due_rows')).toBe(3);
    expect(value(m, 'outbox_backing_off_rows')).toBe(0);
    expect(value(m, 'postgres_up')).toBe(1);
    // Publish them, so the next test starts with nothing due.
    const relay = await startSystem(ctx, ['relay']);
    try {
      await waitFor('the relay to publish them', async () => value(await apiMetrics(), 'outbox_pending_rows') === 0);
    } finally {
      await relay.stop();
    }
  });

  it('shows a row backing off as itself: lag counts from when a row became due, not from its creation', async () => {
    const id = randomUUID();
    // Created an hour ago, failed once, and retried only in an hour.
    await ctx.sql`
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, attempts, available_at)
      VALUES (${id}, 'order', ${randomUUID()}, 'order.created', '{}', now() - interval '1 hour', 1, now() + interval '1 hour')`;
    try {
      const waiting = await waitFor('the row in backoff to show', async () => {
        const s = await apiMetrics();
        return value(s, 'outbox_backing_off_rows') === 1 && s;
      });
      expect(value(waiting, 'outbox_pending_rows')).toBe(1);
      expect(value(waiting, 'outbox_due_rows')).toBe(0);
      expect(value(waiting, 'outbox_oldest_pending_age_seconds')).toBe(0);
      // Due for a minute now: the lag is that minute, not the hour since it was written.
      await ctx.sql`UPDATE outbox SET available_at = now() - interval '60 seconds' WHERE id = ${id}`;
      const due = await waitFor('the row to be due', async () => {
        const s = await apiMetrics();
        return value(s, 'outbox_due_rows') === 1 && s;
      });
      expect(value(due, 'outbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(60);
      expect(value(due, 'outbox_oldest_pending_age_seconds')).toBeLessThan(3600);
    } finally {
      await ctx.sql`DELETE FROM outbox WHERE id = ${id}`;
    }
  });

  it('counts a poison row once in outbox_rows_failed_total, and each of its attempts in outbox_publish_failures_total', async () => {
    const relay = await startSystem(ctx, ['relay']);
    try {
      // No route for this type: every attempt fails, and the third makes the row dead.
      await ctx.sql`INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES (${randomUUID()}, 'order', ${randomUUID()}, 'order.unheard_of', '{}')`;
      relay.relay?.wake();
      await waitFor('the row to die', async () => value(await apiMetrics(), 'outbox_dead_rows') === 1);
      const r = await roleMetrics(relay);
      expect(value(r, 'outbox_publish_failures_total')).toBe(3);
      expect(value(r, 'outbox_rows_failed_total')).toBe(1);
      expect(value(r, 'outbox_rows_dead_total')).toBe(1);
      expect(value(await apiMetrics(), 'outbox_backing_off_rows')).toBe(0);
    } finally {
      await relay.stop();
    }
  });
});

describe('each process', () => {
  it('registers its own role’s metrics, build_info, and labels /metrics and 404s by themselves', async () => {
    const relay = await startSystem(ctx, ['relay']);
    const workers = await startSystem(ctx, ['workers']);
    try {
      await fetch(`${api.url}/no/such/page`);
      await scrapeText(`${api.url}/metrics`);
      const a = await apiMetrics();
      expect(value(a, 'http_request_duration_seconds_count', { route: '/metrics', status: '200' })).toBeGreaterThanOrEqual(1);
      expect(value(a, 'http_request_duration_seconds_count', { route: 'unmatched', status: '404' })).toBe(1);
      expect(a.samples.some((s) => s.labels.route === '/*')).toBe(false);
      for (const s of [a, await roleMetrics(relay), await roleMetrics(workers)]) {
        expect(value(s, 'pizza_outbox_build_info', { version: '0.1.0', node: process.versions.node })).toBe(1);
        for (const family of ['outbox_pending_rows', 'outbox_oldest_pending_age_seconds', 'bullmq_jobs', 'bullmq_workers', 'redis_up', 'postgres_up']) {
          expect(s.families).toContain(family);
        }
      }
      const has = (s: { families: Set<string> }, names: string[]) => names.map((n) => s.families.has(n));
      const relayOnly = ['outbox_published_total', 'outbox_publish_failures_total', 'relay_batch_duration_seconds'];
      const workerOnly = ['jobs_completed_total', 'job_processing_duration_seconds'];
      expect(has(a, [...relayOnly, ...workerOnly])).toEqual([false, false, false, false, false]);
      expect(has(await roleMetrics(relay), ['http_request_duration_seconds', ...relayOnly, ...workerOnly])).toEqual([false, true, true, true, false, false]);
      expect(has(await roleMetrics(workers), ['http_request_duration_seconds', ...relayOnly, ...workerOnly])).toEqual([false, false, false, false, true, true]);
      // The workers are connected: the queue gauges see them.
      await waitFor('the workers to show', async () => (value(await apiMetrics(), 'bullmq_workers', { queue: 'payments' }) ?? 0) >= 1);
    } finally {
      await workers.stop();
      await relay.stop();
    }
  });

  it('serves scrapes that promtool check metrics accepts', async (test) => {
    const promtool = await run('promtool', ['--version']).catch(() => undefined);
    if (!promtool) {
      if (process.env.CI) throw new Error('promtool is missing: apt-get install prometheus (CI must run this check)');
      test.skip('promtool is not installed (apt-get install prometheus): the Prometheus check of the scrape is skipped');
      return;
    }
    const relay = await startSystem(ctx, ['relay']);
    try {
      for (const url of [`${api.url}/metrics`, `http://127.0.0.1:${relay.metricsPort()}/metrics`]) {
        const text = await scrapeText(url);
        const child = execFile('promtool', ['check', 'metrics']);
        const done = new Promise<{ code: number | null; out: string }>((resolve) => {
          let out = '';
          child.stdout?.on('data', (d) => (out += d));
          child.stderr?.on('data', (d) => (out += d));
          child.on('close', (code) => resolve({ code, out }));
        });
        child.stdin?.end(text);
        const { code, out } = await done;
        // prom-client's default metrics name three gauges *_total (its own naming, not ours):
        // promtool's lint reports those, and every other problem fails the test.
        const problems = out.split('\n').filter((line) => line !== '' && !PROM_CLIENT_DEFAULTS.test(line));
        expect(problems).toEqual([]);
        if (out === '') expect(code).toBe(0);
      }
    } finally {
      await relay.stop();
    }
  });
});
