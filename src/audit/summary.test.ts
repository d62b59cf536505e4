import { describe, expect, it } from 'vitest';
import { formatDuration } from './reasons.ts';
import type { AuditReport } from './report.ts';
import { formatSummary, itemLine, verdictLine } from './summary.ts';

function report(over: Partial<AuditReport> = {}): AuditReport {
  return {
    ok: true,
    strict: false,
    checkedAt: '2026-01-01T00:00:00.000Z',
    settleMs: 30_000,
    lockDurationMs: 30_000,
    counts: { lost: 0, duplicated: 0, unexpected: 0, stuck: 0, recovered: 0 },
    items: { lost: [], duplicated: [], unexpected: [], stuck: [], recovered: [] },
    limit: 100,
    totals: { orders: 3, outboxRows: 9, jobsScanned: 9, jobsPastRetention: 0 },
    ...over,
  };
}

describe('formatDuration', () => {
  it('shows the two largest units', () => {
    expect(formatDuration(450)).toBe('450ms');
    expect(formatDuration(30_000)).toBe('30s');
    expect(formatDuration(125_000)).toBe('2m 5s');
    expect(formatDuration(3 * 3_600_000 + 5_000)).toBe('3h');
    expect(formatDuration(86_400_000 + 4 * 3_600_000 + 1)).toBe('1d 4h');
    expect(formatDuration(-5)).toBe('0ms');
  });
});

describe('formatSummary', () => {
  it('says OK at a glance on a clean run, with the totals', () => {
    const text = formatSummary(report({ counts: { lost: 0, duplicated: 0, unexpected: 0, stuck: 0, recovered: 4 } }));
    expect(text).toContain('3 orders, 9 outbox rows, 9 jobs scanned; settle time 30s');
    expect(text).toContain('0 lost, 0 duplicated, 0 unexpected, 0 stuck, 4 recovered — OK');
    expect(text).not.toContain('Next:');
    expect(text).not.toContain('retention');
  });

  it('says how many jobs outlived their outbox row by retention', () => {
    const text = formatSummary(report({ totals: { orders: 3, outboxRows: 9, jobsScanned: 9, jobsPastRetention: 2 } }));
    expect(text).toContain('9 jobs scanned (2 outlived their outbox row by retention, not checked for it);');
  });

  it('lists what is wrong with its reason, says stuck is not a violation, and how many were left out', () => {
    const lost = Array.from({ length: 12 }, (_, i) => ({ kind: 'order_not_final' as const, orderId: `order-${i}`, reason: 'the relay is down' }));
    const text = formatSummary(
      report({
        ok: false,
        counts: { lost: 40, duplicated: 0, unexpected: 0, stuck: 1, recovered: 0 },
        items: { ...report().items, lost, stuck: [{ kind: 'job_failed', queue: 'payments', jobId: 'j1', reason: 'card declined' }] },
      }),
    );
    expect(text).toContain('40 lost, 0 duplicated, 0 unexpected, 1 stuck, 0 recovered — FAILED');
    expect(text).toContain('  - [order_not_final] order order-0: the relay is down');
    expect(text).not.toContain('order-10');
    expect(text).toContain('… and 30 more (the JSON report lists 12; raise --limit for more)');
    expect(text).toContain('STUCK 1: waiting for a person (not a violation; --strict counts it)');
    expect(text).toContain('  - [job_failed] job payments/j1: card declined');
    expect(text).toContain('Next:');
  });

  it('says how many were not listed when --limit lists none', () => {
    const text = formatSummary(report({ ok: false, limit: 0, counts: { lost: 5, duplicated: 0, unexpected: 0, stuck: 0, recovered: 0 } }));
    expect(text).toContain('LOST 5');
    expect(text).toContain('  … 5 not listed (raise --limit to list them)');
  });

  it('explains a strict failure caused by stuck work alone', () => {
    const counts = { lost: 0, duplicated: 0, unexpected: 0, stuck: 2, recovered: 0 };
    expect(verdictLine(report({ ok: false, strict: true, counts }))).toBe(
      '0 lost, 0 duplicated, 0 unexpected, 2 stuck, 0 recovered — FAILED (strict: stuck counts as a violation)',
    );
  });

  it('names every id an item carries once', () => {
    expect(itemLine({ kind: 'duplicate_effect', orderId: 'o1', table: 'gateway_charges', rowIds: ['c1', 'c2'], reason: 'r' })).toBe(
      '[duplicate_effect] order o1, gateway_charges c1, c2: r',
    );
    expect(itemLine({ kind: 'invoice_missing', orderId: 'o1', outboxId: 'e1', queue: 'invoices', jobId: 'e1', reason: 'r' })).toBe(
      '[invoice_missing] order o1, job invoices/e1: r',
    );
  });
});
