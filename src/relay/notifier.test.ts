import { describe, expect, it, vi } from 'vitest';
import { createCoalescedNotifier } from './notifier.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('createCoalescedNotifier', () => {
  it('sends at once when idle, and folds pokes made while one is in flight into one more', async () => {
    const sends: Array<ReturnType<typeof deferred>> = [];
    const notifier = createCoalescedNotifier(
      () => {
        const d = deferred();
        sends.push(d);
        return d.promise;
      },
      0,
      () => {},
    );
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
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      let sends = 0;
      const notifier = createCoalescedNotifier(
        async () => {
          sends++;
        },
        20,
        () => {},
      );
      notifier.poke();
      expect(sends).toBe(1);
      await Promise.resolve(); // let the first send settle
      await Promise.resolve();
      notifier.poke();
      notifier.poke();
      await vi.advanceTimersByTimeAsync(19);
      expect(sends).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(sends).toBe(2);
      notifier.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports a failed send and keeps working', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const notifier = createCoalescedNotifier(
      async () => {
        calls++;
        if (calls === 1) throw new Error('postgres down');
      },
      0,
      (err) => errors.push(err),
    );
    notifier.poke();
    await new Promise((r) => setTimeout(r, 1));
    notifier.poke();
    await new Promise((r) => setTimeout(r, 1));
    expect(errors).toHaveLength(1);
    expect(calls).toBe(2);
    notifier.stop();
  });
});
