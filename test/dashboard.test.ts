// The shipped Grafana dashboard against Debian's Prometheus scraping a real run: api, relay and
// workers (each its own registry and /metrics, as in the scale-out layout) place and process
// orders; Prometheus (with the shipped alert rules loaded) scrapes them every second; every query of
// every panel must return data. Skipped without the prometheus binary, except in CI.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from './support/context.ts';
import { type Child, freePort, startCommand } from './support/processes.ts';
import { postJson, startSystem, type RunningSystem } from './support/system.ts';

const DEPLOY = new URL('../deploy/', import.meta.url).pathname;
const hasPrometheus = await promisify(execFile)('prometheus', ['--version']).then(
  () => true,
  () => false,
);
if (!hasPrometheus && process.env.CI) throw new Error('prometheus is missing: apt-get install prometheus (CI must run this check)');

interface Dashboard {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
}

let ctx: TestContext;
const systems: RunningSystem[] = [];
let prometheus: Child | undefined;
let promUrl: string;
let dir: string;

beforeAll(async () => {
  if (!hasPrometheus) return;
  ctx = await createTestContext();
  const [api, relay, workers] = [await startSystem(ctx, ['api']), await startSystem(ctx, ['relay']), await startSystem(ctx, ['workers'])];
  systems.push(api!, relay!, workers!);
  dir = await mkdtemp(join(tmpdir(), 'prometheus-'));
  const target = (port: number | undefined) => `'127.0.0.1:${port}'`;
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: ['${join(DEPLOY, 'prometheus/alerts.yml')}']`,
      'scrape_configs:',
      // The API's /metrics is for staff: HTTP Basic with the admin credentials.
      `  - { job_name: api, basic_auth: { username: admin, password: '${TEST_ADMIN_PASSWORD}' }, static_configs: [{ targets: [${target(api!.port())}] }] }`,
      `  - { job_name: relay, static_configs: [{ targets: [${target(relay!.metricsPort())}] }] }`,
      `  - { job_name: worker, static_configs: [{ targets: [${target(workers!.metricsPort())}] }] }`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = startCommand('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`]);
  await waitFor('Prometheus to be ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 30_000);
});

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await Promise.race([prometheus?.exited, new Promise((r) => setTimeout(r, 5000))]);
  prometheus?.kill('SIGKILL');
  for (const s of systems.reverse()) await s.stop();
  await ctx?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function query(expr: string): Promise<unknown[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data!.result;
}

describe.skipIf(!hasPrometheus)('the Grafana dashboard on a real run (Debian Prometheus; apt-get install prometheus to run)', () => {
  it('has data for every query of every panel, and Prometheus loads the alert rules', async () => {
    const ORDER = { customer_name: 'Panel', address: '1 Graph St', items: [{ flavor: 'Funghi', size: 'small', quantity: 1, unit_price_cents: 900 }] };
    for (let i = 0; i < 3; i++) expect((await postJson(`${systems[0]!.url}/orders`, ORDER)).status).toBe(201);
    const dashboard = JSON.parse(await readFile(join(DEPLOY, 'grafana/dashboards/pizza-outbox.json'), 'utf8')) as Dashboard;
    // Grafana's $__rate_interval is at least four scrape intervals; a minute covers that here.
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$__rate_interval', '1m') })));
    expect(queries.length).toBeGreaterThan(10);
    let empty: string[] = [];
    await waitFor(
      'every panel query to return data',
      async () => {
        empty = [];
        for (const q of queries) if ((await query(q.expr)).length === 0) empty.push(`${q.panel}: ${q.expr}`);
        return empty.length === 0;
      },
      40_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; still empty: ${empty.join(' | ')}`);
    });

    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.length).toBeGreaterThan(5);
    expect(loaded.filter((r) => r.health === 'err')).toEqual([]);
  }, 90_000);
});
