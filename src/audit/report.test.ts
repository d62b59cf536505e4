import { describe, expect, it } from 'vitest';
import { createCollector, isOk } from './report.ts';

const item = (n: number) => ({ kind: 'order_not_final' as const, orderId: `o${n}`, reason: 'r' });

describe('createCollector', () => {
  it('counts every finding but keeps at most `limit` per category', () => {
    const c = createCollector(2);
    for (let i = 0; i < 3; i++) c.add('lost', item(i));
    c.addCounted('lost', 10, [item(3)]);
    c.addCounted('stuck', 0, []);
    expect(c.counts()).toEqual({ lost: 13, duplicated: 0, unexpected: 0, stuck: 0, recovered: 0 });
    expect(c.items().lost.map((i) => i.orderId)).toEqual(['o0', 'o1']);
  });

  it('never counts fewer findings than it was given', () => {
    const c = createCollector(5);
    c.addCounted('duplicated', 0, [item(1)]);
    expect(c.counts().duplicated).toBe(1);
  });
});

describe('isOk', () => {
  const zero = { lost: 0, duplicated: 0, unexpected: 0, stuck: 0, recovered: 0 };
  it('ignores stuck and recovered unless strict, and never counts recovered', () => {
    expect(isOk({ ...zero, stuck: 2, recovered: 3 }, false)).toBe(true);
    expect(isOk({ ...zero, stuck: 2 }, true)).toBe(false);
    expect(isOk({ ...zero, recovered: 3 }, true)).toBe(true);
    for (const c of ['lost', 'duplicated', 'unexpected'] as const) expect(isOk({ ...zero, [c]: 1 }, false)).toBe(false);
  });
});
