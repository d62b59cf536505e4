// The demo's end: a plain-text summary (no colours, so it reads the same in a pipe), where to look
// at failed and retried jobs, and the exit status with its one-line reason.
import { itemLine } from '../audit/summary.ts';
import { VIOLATIONS, type AuditReport } from '../audit/report.ts';
import { QUEUE_NAMES, type QueueName } from '../orders/topology.ts';
import type { JobStats, Latencies, Stages } from './observe.ts';

export interface DemoResult {
  url: string;
  seed: number;
  orders: number; // asked for
  rate: number; // asked for, orders per second
  sent: number; // orders whose first request went out
  placed: number; // answered 201
  sendSpanMs: number; // from the first order's request out to the last one's
  httpErrors: Record<string, number>; // final answer by status, or 'network'
  retriedPosts: number;
  placementLatenciesMs: number[];
  stages: Stages;
  latencies: Latencies;
  jobs: Record<QueueName, JobStats>;
}

// Nearest rank: the smallest value with at least p of the values at or below it.
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

// Columns padded to their widest cell; 'r' columns right-aligned. No trailing spaces.
export function formatTable(rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => (align[i] === 'r' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

export function formatHttpErrors(errors: Record<string, number>): string {
  const entries = Object.entries(errors).filter(([, n]) => n > 0);
  if (entries.length === 0) return 'none';
  return entries
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${n} × ${status === 'network' ? 'no answer' : `HTTP ${status}`}`)
    .join(', ');
}

export function formatSummary(r: DemoResult): string {
  const s = r.stages;
  const failed = s.paymentFailed + s.deliveryFailed;
  const counts = formatTable(
    [
      ['orders placed', `${r.placed} of ${r.orders}; ${sendRate(r)}`],
      ['HTTP errors', `${formatHttpErrors(r.httpErrors)}${r.retriedPosts > 0 ? ` (${r.retriedPosts} POSTs retried with their Idempotency-Key)` : ''}`],
      ['created', String(r.placed)],
      ['paid', String(s.paid)],
      ['delivered', String(s.delivered)],
      ['invoiced', String(s.invoiced)],
      ['failed', `${failed}${failed > 0 ? ` (${s.paymentFailed} payment failed, ${s.deliveryFailed} delivery failed)` : ''}`],
      ['not settled', String(Math.max(0, r.placed - s.settled))],
    ],
    ['l', 'l'],
  );
  const p = (values: readonly number[], q: number) => formatMs(percentile(values, q));
  const latency = formatTable(
    [
      ['latency', 'p50', 'p99'],
      ['placement (POST → 201)', p(r.placementLatenciesMs, 0.5), p(r.placementLatenciesMs, 0.99)],
      ['created → paid', formatMs(r.latencies.paid.p50), formatMs(r.latencies.paid.p99)],
      ['created → delivered', formatMs(r.latencies.delivered.p50), formatMs(r.latencies.delivered.p99)],
    ],
    ['l', 'r', 'r'],
  );
  const jobs = formatTable(
    [['queue', 'jobs', 'retried', 'failed'], ...QUEUE_NAMES.map((q) => [q, String(r.jobs[q].expected), String(r.jobs[q].retried), String(r.jobs[q].failed)])],
    ['l', 'r', 'r', 'r'],
  );
  return [`Summary (seed ${r.seed}; ${r.url})`, counts, '', latency, '', jobs].join('\n');
}

// The rate achieved: n orders sent over a span have n - 1 gaps between them.
export function sendRate(r: Pick<DemoResult, 'sent' | 'sendSpanMs' | 'rate'>): string {
  const seconds = r.sendSpanMs / 1000;
  if (r.sent < 2 || seconds <= 0) return `${r.sent} sent (asked ${r.rate}/s)`;
  return `${r.sent} sent over ${seconds.toFixed(1)} s, ${((r.sent - 1) / seconds).toFixed(1)}/s (asked ${r.rate}/s)`;
}

// Where to see the demo's failed and retried jobs, when there are any.
export function dashboardHints(r: Pick<DemoResult, 'url' | 'jobs'>, adminUser: string, queuePrefix: string): string[] {
  const lines: string[] = [];
  const links: string[][] = [];
  for (const q of QUEUE_NAMES) {
    const { failed, recovered } = r.jobs[q];
    const board = `${r.url}/admin/queues/queue/${q}`;
    if (failed > 0) links.push([q, `${failed} failed`, `${board}?status=failed`]);
    if (recovered > 0) links.push([q, `${recovered} done after a retry`, `${board}?status=completed`]);
  }
  if (links.length > 0) {
    lines.push(
      `Failed and retried jobs, in Bull Board (user ${adminUser}; password: ADMIN_PASSWORD, or the generated one in the service's start-up log):`,
      formatTable(links, ['l', 'l', 'l']),
      'A failed job can be retried there once its cause is fixed (a declined card stays declined).',
      'npm run audit lists every failed job with its reason (as stuck: waiting for a person, not a violation).',
    );
  }
  const expected = QUEUE_NAMES.reduce((n, q) => n + r.jobs[q].expected, 0);
  const found = QUEUE_NAMES.reduce((n, q) => n + r.jobs[q].found, 0);
  if (expected > 0 && found === 0) {
    lines.push(`None of the demo's ${expected} jobs are in Redis under QUEUE_PREFIX ${queuePrefix}: run the demo with the service's REDIS_URL and QUEUE_PREFIX to see its jobs.`);
  }
  return lines;
}

export const AUDIT_ITEMS_SHOWN = 5;

// The audit's violations, a few of each kind; stuck work (failed jobs) is covered by the hints.
export function auditViolations(report: AuditReport): string[] {
  const lines: string[] = [];
  for (const category of VIOLATIONS) {
    const count = report.counts[category];
    if (count === 0) continue;
    lines.push(`${category.toUpperCase()} ${count}:`);
    for (const item of report.items[category].slice(0, AUDIT_ITEMS_SHOWN)) lines.push(`  - ${itemLine(item)}`);
    if (count > AUDIT_ITEMS_SHOWN) lines.push(`  … and ${count - AUDIT_ITEMS_SHOWN} more: npm run audit lists them`);
  }
  return lines;
}

export interface Outcome {
  code: 0 | 1 | 130;
  lines: string[];
}

export function conclude(o: {
  orders: number;
  placed: number;
  settled: number;
  timeoutS: number;
  auditOk: boolean | undefined;
  interrupted: boolean;
  // Orders the service refused with 429: its per-client rate limit, which a demo run exceeds.
  rateLimited?: number;
}): Outcome {
  if (o.interrupted) {
    return { code: 130, lines: [`Interrupted: ${o.settled} of ${o.orders} orders settled; the audit was skipped. Check the system with: npm run audit`] };
  }
  const lines: string[] = [];
  const notPlaced = o.orders - o.placed;
  const notSettled = o.placed - o.settled;
  if (notPlaced > 0) lines.push(`${notPlaced} of ${o.orders} orders could not be placed: see HTTP errors above.`);
  if (o.rateLimited) {
    lines.push(`${o.rateLimited} orders were refused by the service's rate limit (HTTP 429): for the demo, start the service with ORDER_RATE_LIMIT_PER_MINUTE=0.`);
  }
  if (notSettled > 0) {
    lines.push(`${notSettled} orders did not reach a final state within ${o.timeoutS} s of the last order: see the audit above, run npm run audit later, or raise --timeout-s.`);
  }
  if (o.auditOk === false) lines.push('The audit found violations: run npm run audit for the full report.');
  if (lines.length > 0) return { code: 1, lines };
  return { code: 0, lines: [`All ${o.orders} orders reached a final state and the audit is OK.`] };
}
