import { describe, expect, it } from 'vitest';
import { createBatcher } from './batch.ts';

// A runMany that fails its whole batch when it holds a negative number, as a transaction does
// when one of its statements is refused.
const doubleAll = async (items: number[]) => {
  if (items.some((i) => i < 0)) throw new Error('batch refused');
  return items.map((i) => i * 2);
};
const doubleOne = async (i: number) => {
  if (i < 0) throw new Error(`item ${i} refused`);
  return i * 2;
};

describe('createBatcher', () => {
  it('sends a lone item at once, and queues what arrives while batches run into the next batch', async () => {
    const sizes: number[] = [];
    const batches: number[] = [];
    const run = createBatcher(
      async (items: number[]) => {
        sizes.push(items.length);
        return doubleAll(items);
      },
      async (i: number) => {
        sizes.push(1);
        return doubleOne(i);
      },
      { maxBatch: 10, maxInFlight: 1, onBatch: (n) => batches.push(n) },
    );
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => run(i)));
    expect(results).toEqual(Array.from({ length: 25 }, (_, i) => i * 2));
    // The first goes alone; the 24 queued behind it leave in batches of at most 10.
    expect(sizes).toEqual([1, 10, 10, 4]);
    expect(batches).toEqual([1, 10, 10, 4]);
  });

  it('gives a failed batch’s items each their own outcome: one bad item fails alone', async () => {
    const run = createBatcher(doubleAll, doubleOne, { maxBatch: 10, maxInFlight: 1 });
    const settled = await Promise.allSettled([1, 2, -3, 4, 5].map(run));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([2, 4, 'item -3 refused', 8, 10]);
  });

  it('fails every item of a batch at once with an error that concerns none of them', async () => {
    let alone = 0;
    const down = new Error('connection refused');
    const run = createBatcher(
      async () => {
        throw down;
      },
      async () => {
        alone++;
        throw down;
      },
      { maxBatch: 10, maxInFlight: 1, sharedFailure: (err) => err === down },
    );
    const settled = await Promise.allSettled([1, 2, 3, 4].map(run));
    expect(settled.every((s) => s.status === 'rejected' && s.reason === down)).toBe(true);
    expect(alone).toBe(1); // only the first, sent alone before the others queued
  });

  it('never sends an item whose caller stopped waiting: it fails alone, its neighbours go on', async () => {
    const sent: number[] = [];
    const late = new Error('its caller stopped waiting');
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const run = createBatcher(
      async (items: number[]) => {
        sent.push(...items);
        return items.map((i) => i * 2);
      },
      async (i: number) => {
        await gate; // the first item holds the only slot while the others queue
        sent.push(i);
        return i * 2;
      },
      { maxBatch: 10, maxInFlight: 1, expired: (i) => (i % 2 === 1 ? late : undefined) },
    );
    const pending = Promise.allSettled([0, 1, 2, 3, 4].map(run));
    release();
    const settled = await pending;
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([0, late.message, 4, late.message, 8]);
    expect(sent).toEqual([0, 2, 4]); // 1 and 3 were never sent
  });
});
