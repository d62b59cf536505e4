import { describe, expect, it } from 'vitest';
import { createCoalescedNotifier } from './notifier.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('createCoalescedNotifier', () => {
  it('sends at once when idle, and folds pokes made while one is in flight into one more', async () => {
    const sends: Array<ReturnType<typeof deferred>> = [];
    const notifier = createCoalescedNotifier(() => {
      const d = deferred();
      sends.push(d);
      return d.promise;
    }, 0, () => {});
    notifier.poke();
    expect(sends).toHaveLength(1);
    for (let i = 0; i < 100; i++) notifier.poke();
    expect(sends).toHaveLength(1);
    sends[0]!.resolve();
    await sends[0]!.promise;
    await new Promise((r) => setImmediate(r));
    expect(sends).toHaveLength(2);
    sends[1]!.resolve();
    notifier.stop();
  });

  it('waits at least the minimum gap between two sends', async () => {
    const sentAt: number[] = [];
    const notifier = createCoalescedNotifier(async () => {
      sentAt.push(performance.now());
    }, 20, () => {});
    notifier.poke();
    await new Promise((r) => setImmediate(r));
    notifier.poke();
    notifier.poke();
    const deadline = performance.now() + 5000;
    while (sentAt.length < 2 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    expect(sentAt).toHaveLength(2);
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(19);
    notifier.stop();
  });

  it('reports a failed send and keeps working', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const notifier = createCoalescedNotifier(async () => {
      calls++;
      if (calls === 1) throw new Error('postgres down');
    }, 0, (err) => errors.push(err));
    notifier.poke();
    await new Promise((r) => setTimeout(r, 1));
    notifier.poke();
    await new Promise((r) => setTimeout(r, 1));
    expect(errors).toHaveLength(1);
    expect(calls).toBe(2);
    notifier.stop();
  });
});
