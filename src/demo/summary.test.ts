import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../orders/topology.ts';
import type { JobStats } from './observe.ts';
import type { AuditReport } from '../audit/report.ts';
import { auditViolations, conclude, dashboardHints, formatHttpErrors, formatMs, formatSummary, formatTable, percentile, sendRate, type DemoResult } from './summary.ts';

const noJobs = () =>
  Object.fromEntries(QUEUE_NAMES.map((q) => [q, { expected: 0, found: 0, retried: 0, recovered: 0, failed: 0 }])) as Record<(typeof QUEUE_NAMES)[number], JobStats>;

function result(over: Partial<DemoResult> = {}): DemoResult {
  return {
    url: 'http://localhost:8080',
    seed: 7,
    orders: 30,
    rate: 100,
    sent: 30,
    placed: 30,
    sendSpanMs: 290,
    httpErrors: {},
    retriedPosts: 0,
    placementLatenciesMs: [5, 6, 7],
    stages: { found: 30, paid: 27, delivered: 27, invoiced: 27, paymentFailed: 3, deliveryFailed: 0, settled: 30 },
    latencies: { paid: { p50: 12.3, p99: 80 }, delivered: { p50: 40, p99: 12_345 } },
    jobs: noJobs(),
    ...over,
  };
}

describe('percentile', () => {
  it('takes the nearest rank, like percentile_disc', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([3], 0.99)).toBe(3);
    expect(percentile([4, 1, 3, 2], 0.5)).toBe(2);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile(hundred, 1)).toBe(100);
  });
});

describe('formatting', () => {
  it('shows durations in a readable unit', () => {
    expect(formatMs(null)).toBe('—');
    expect(formatMs(4.26)).toBe('4.3 ms');
    expect(formatMs(812.4)).toBe('812 ms');
    expect(formatMs(12_345)).toBe('12.3 s');
  });

  it('pads table columns to their widest cell, right-aligning numbers, with no trailing spaces', () => {
    expect(
      formatTable(
        [
          ['queue', 'jobs'],
          ['payments', '7'],
          ['invoices', '123'],
        ],
        ['l', 'r'],
      ),
    ).toBe(['  queue     jobs', '  payments     7', '  invoices   123'].join('\n'));
    expect(
      formatTable(
        [
          ['a', ''],
          ['bbb', 'x'],
        ],
        ['l', 'l'],
        '',
      ),
    ).toBe('a\nbbb  x');
  });

  it('lists HTTP errors by status', () => {
    expect(formatHttpErrors({})).toBe('none');
    expect(formatHttpErrors({ network: 1, '503': 2, '400': 0 })).toBe('2 × HTTP 503, 1 × no answer');
  });

  it('reports the rate achieved over the gaps between orders', () => {
    expect(sendRate({ sent: 30, sendSpanMs: 290, rate: 100 })).toBe('30 sent over 0.3 s, 100.0/s (asked 100/s)');
    expect(sendRate({ sent: 1, sendSpanMs: 0, rate: 5 })).toBe('1 sent (asked 5/s)');
  });
});

describe('formatSummary', () => {
  it('shows every stage, the latencies and the jobs per queue, without escape codes', () => {
    const jobs = noJobs();
    jobs.payments = { expected: 30, found: 30, retried: 2, recovered: 2, failed: 3 };
    const text = formatSummary(result({ jobs, httpErrors: { '503': 1 }, retriedPosts: 2 }));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point: no terminal escape codes in a pipe
    expect(text).not.toMatch(/\x1b/);
    expect(text).toMatch(/orders placed +30 of 30; 30 sent over 0\.3 s/);
    expect(text).toMatch(/HTTP errors +1 × HTTP 503 \(2 POSTs retried with their Idempotency-Key\)/);
    for (const [stage, n] of [
      ['created', 30],
      ['paid', 27],
      ['delivered', 27],
      ['invoiced', 27],
      ['not settled', 0],
    ] as const) {
      expect(text).toMatch(new RegExp(`\\n  ${stage} +${n}\\n`));
    }
    expect(text).toMatch(/failed +3 \(3 payment failed, 0 delivery failed\)/);
    expect(text).toMatch(/placement \(POST → 201\) +6\.0 ms +7\.0 ms/);
    expect(text).toMatch(/created → delivered +40 ms +12\.3 s/);
    expect(text).toMatch(/payments +30 +2 +3/);
  });
});

describe('dashboardHints', () => {
  it('says nothing when no job failed or was retried', () => {
    expect(dashboardHints(result(), 'admin', '{outbox}')).toEqual([]);
  });

  it('links the failed and the retried jobs of each queue in Bull Board, and names the login', () => {
    const jobs = noJobs();
    jobs.payments = { expected: 30, found: 30, retried: 0, recovered: 0, failed: 3 };
    jobs.deliveries = { expected: 27, found: 27, retried: 4, recovered: 4, failed: 0 };
    const text = dashboardHints(result({ jobs }), 'ops', '{outbox}').join('\n');
    expect(text).toContain('http://localhost:8080/admin/queues/queue/payments?status=failed');
    expect(text).toContain('http://localhost:8080/admin/queues/queue/deliveries?status=completed');
    expect(text).not.toContain('queue/invoices');
    expect(text).toContain('user ops');
    expect(text).toContain('ADMIN_PASSWORD');
    expect(text).toContain('npm run audit');
  });

  it('warns when none of the jobs are in Redis (another QUEUE_PREFIX)', () => {
    const jobs = noJobs();
    jobs.payments = { expected: 30, found: 0, retried: 0, recovered: 0, failed: 0 };
    expect(dashboardHints(result({ jobs }), 'admin', '{other}').join('\n')).toContain('QUEUE_PREFIX {other}');
  });
});

describe('auditViolations', () => {
  const item = (n: number) => ({ kind: 'order_not_final' as const, orderId: `o${n}`, reason: 'still pending_payment' });
  const report = (over: Partial<AuditReport>): AuditReport => ({
    ok: false,
    strict: false,
    checkedAt: '2026-01-01T00:00:00.000Z',
    settleMs: 5000,
    lockDurationMs: 30_000,
    counts: { lost: 0, duplicated: 0, unexpected: 0, stuck: 0, recovered: 0 },
    items: { lost: [], duplicated: [], unexpected: [], stuck: [], recovered: [] },
    limit: 5,
    totals: { orders: 1, outboxRows: 1, jobsScanned: 0, jobsPastRetention: 0 },
    ...over,
  });

  it('lists a few items of each violation, not the stuck ones', () => {
    const lines = auditViolations(
      report({
        counts: { lost: 7, duplicated: 0, unexpected: 0, stuck: 3, recovered: 0 },
        items: { lost: [1, 2, 3, 4, 5].map(item), duplicated: [], unexpected: [], stuck: [item(9)], recovered: [] },
      }),
    );
    expect(lines[0]).toBe('LOST 7:');
    expect(lines[1]).toBe('  - [order_not_final] order o1: still pending_payment');
    expect(lines).toHaveLength(7);
    expect(lines[6]).toBe('  … and 2 more: npm run audit lists them');
    expect(lines.join()).not.toContain('o9');
  });

  it('is empty for a clean audit', () => {
    expect(auditViolations(report({ ok: true, counts: { lost: 0, duplicated: 0, unexpected: 0, stuck: 4, recovered: 1 } }))).toEqual([]);
  });
});

describe('conclude', () => {
  const base = { orders: 30, placed: 30, settled: 30, timeoutS: 60, auditOk: true, interrupted: false };

  it('exits 0 when every order settled and the audit is OK', () => {
    expect(conclude(base)).toEqual({ code: 0, lines: ['All 30 orders reached a final state and the audit is OK.'] });
  });

  it('exits 1 with a reason per problem', () => {
    expect(conclude({ ...base, settled: 28 }).code).toBe(1);
    expect(conclude({ ...base, settled: 28 }).lines.join()).toContain('2 orders did not reach a final state within 60 s');
    expect(conclude({ ...base, placed: 29, settled: 29 }).lines.join()).toContain('1 of 30 orders could not be placed');
    expect(conclude({ ...base, auditOk: false }).lines.join()).toContain('npm run audit');
    expect(conclude({ ...base, placed: 29, settled: 28, auditOk: false }).lines).toHaveLength(3);
    expect(conclude({ ...base, placed: 20, settled: 20, rateLimited: 10 }).lines.join()).toContain('ORDER_RATE_LIMIT_PER_MINUTE=0');
  });

  it('exits 130 when interrupted', () => {
    expect(conclude({ ...base, settled: 10, auditOk: undefined, interrupted: true })).toMatchObject({ code: 130 });
  });
});
