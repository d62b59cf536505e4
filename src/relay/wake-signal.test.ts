import { describe, expect, it } from 'vitest';
import { WakeSignal } from './wake-signal.ts';

describe('WakeSignal', () => {
  it('keeps a notify that arrived before anyone waited', async () => {
    const signal = new WakeSignal();
    signal.notify();
    await expect(signal.wait(60_000)).resolves.toBe(true);
  });

  it('wakes one waiter per notify, and every waiter on notifyAll', async () => {
    const signal = new WakeSignal();
    let woken = 0;
    const waits = [signal.wait(60_000), signal.wait(60_000), signal.wait(60_000)].map((w) =>
      w.then((v) => {
        woken++;
        return v;
      }),
    );
    signal.notify();
    await new Promise((r) => setImmediate(r));
    expect(woken).toBe(1);
    signal.notifyAll();
    await expect(Promise.all(waits)).resolves.toEqual([true, true, true]);
  });

  it('times out when nothing happens, and a pending notify is consumed once', async () => {
    const signal = new WakeSignal();
    await expect(signal.wait(5)).resolves.toBe(false);
    signal.notify();
    await expect(signal.wait(5)).resolves.toBe(true);
    await expect(signal.wait(5)).resolves.toBe(false);
  });
});
