import { describe, expect, it } from 'vitest';
import { keepOldest, mergeCounted } from './oldest.ts';

const at = (ms: number, id: string) => ({ at: new Date(ms), id });

describe('keepOldest', () => {
  it('counts every finding and keeps the oldest `limit`, oldest first, ties by id', () => {
    const oldest = keepOldest<{ at: Date; id: string }>(3);
    for (const f of [at(50, 'e'), at(10, 'b'), at(40, 'd'), at(10, 'a'), at(90, 'f'), at(20, 'c'), at(5, 'z'), at(70, 'g')]) oldest.add(f);
    expect(oldest.total()).toBe(8);
    expect(oldest.rows().map((f) => f.id)).toEqual(['z', 'a', 'b']);
  });

  it('with limit 0 counts but keeps nothing', () => {
    const oldest = keepOldest<{ at: Date; id: string }>(0);
    oldest.add(at(1, 'a'));
    oldest.add(at(2, 'b'));
    expect(oldest.total()).toBe(2);
    expect(oldest.rows()).toEqual([]);
  });
});

describe('mergeCounted', () => {
  it('adds the totals and keeps the oldest `limit` of all parts', () => {
    const a = [
      { ...at(10, 'a'), total: 5 },
      { ...at(30, 'c'), total: 5 },
    ];
    const b = [{ ...at(20, 'b'), total: 2 }];
    expect(mergeCounted(2, a, b)).toEqual([
      { ...at(10, 'a'), total: 7 },
      { ...at(20, 'b'), total: 7 },
    ]);
    expect(mergeCounted(2, [], b)).toEqual([{ ...at(20, 'b'), total: 2 }]);
    expect(mergeCounted(2, [], [])).toEqual([]);
  });
});
