import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { QueueCounts } from './observe.ts';
import { NO_STAGES } from './observe.ts';
import { createProgressView, jobsText, progressLine, type Snapshot } from './progress.ts';

const counts = (over: Partial<Record<'payments' | 'deliveries' | 'invoices', Partial<QueueCounts>>> = {}) => {
  const zero = { active: 0, waiting: 0, delayed: 0, failed: 0 };
  return { payments: { ...zero, ...over.payments }, deliveries: { ...zero, ...over.deliveries }, invoices: { ...zero, ...over.invoices } };
};

const snap = (over: Partial<Snapshot> = {}): Snapshot => ({
  elapsedMs: 1234,
  orders: 30,
  sent: 30,
  placed: 30,
  httpErrors: 0,
  stages: { ...NO_STAGES, found: 30, paid: 20, delivered: 10, invoiced: 12, paymentFailed: 2, deliveryFailed: 1 },
  ...over,
});

describe('jobsText', () => {
  it('shows retrying (delayed) jobs and failures since the start, per queue when there are any', () => {
    expect(jobsText(undefined, undefined)).toBe('jobs: —');
    expect(jobsText(counts(), undefined)).toBe('jobs: 0 retrying, 0 new failed');
    const now = counts({ payments: { delayed: 2, failed: 7 }, deliveries: { failed: 1 } });
    expect(jobsText(now, { payments: 4, deliveries: 1, invoices: 0 })).toBe('jobs: 2 retrying (payments 2), 3 new failed (payments 3)');
    // Failed jobs removed by age since the start never show as a negative count.
    expect(jobsText(counts(), { payments: 4, deliveries: 0, invoices: 0 })).toBe('jobs: 0 retrying, 0 new failed');
  });
});

describe('progressLine', () => {
  it('is one compact line with every stage', () => {
    expect(progressLine(snap({ queues: counts() }))).toBe('[  1.2s] created 30/30  paid 20  delivered 10  invoiced 12  failed 3 | jobs: 0 retrying, 0 new failed');
  });

  it('shows what is still being sent, HTTP errors and a failed read', () => {
    const line = progressLine(snap({ sent: 12, placed: 9, httpErrors: 2, readError: 'connection refused' }));
    expect(line).toContain('created 9/30');
    expect(line).toContain('http errors 2  (sent 12)');
    expect(line).toContain('progress read failed: connection refused');
  });
});

describe('the plain view (stdout is not a terminal)', () => {
  it('prints about one line a second, the final state once, and no escape codes', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const view = createProgressView(out as unknown as NodeJS.WriteStream, false);
    for (let t = 0; t <= 2500; t += 250) view.update(snap({ elapsedMs: t }));
    view.stop(snap({ elapsedMs: 2600 })); // same state as the last line: not repeated
    expect(text.trimEnd().split('\n')).toHaveLength(3); // 0 s, 1 s, 2 s
    view.stop(snap({ elapsedMs: 2700, stages: { ...NO_STAGES, delivered: 30 } }));
    expect(text.trimEnd().split('\n')).toHaveLength(4);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point: no terminal escape codes in a pipe
    expect(text).not.toMatch(/\x1b/);
  });
});
