import { describe, expect, it } from 'vitest';
import { WakeSignal } from './wake-signal.ts';

describe('WakeSignal', () => {
  it('keeps a notify that arrived before anyone waited', async () => {
    const signal = new WakeSignal();
    signal.notify();
    await expect(signal.wait(60_000)).resolves.toBe(true);
  });

  it('wakes every waiter at once', async () => {
    const signal = new WakeSignal();
    const waits = [signal.wait(60_000), signal.wait(60_000)];
    signal.notify();
    await expect(Promise.all(waits)).resolves.toEqual([true, true]);
  });

  it('times out when nothing happens, and a pending notify is consumed once', async () => {
    const signal = new WakeSignal();
    await expect(signal.wait(5)).resolves.toBe(false);
    signal.notify();
    await expect(signal.wait(5)).resolves.toBe(true);
    await expect(signal.wait(5)).resolves.toBe(false);
  });
});
