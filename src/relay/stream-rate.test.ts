import { describe, expect, it } from 'vitest';
import { StreamRate } from './stream-rate.ts';

describe('StreamRate', () => {
  it('settles on the rate of a steady stream and fades once it stops', () => {
    let t = 0;
    const rate = new StreamRate(250, () => t);
    for (let i = 0; i < 2000; i++) {
      t += 2; // 5 rows every 2 ms: 2500 rows/s
      rate.add(5);
    }
    expect(rate.perSecond()).toBeGreaterThan(2400);
    expect(rate.perSecond()).toBeLessThan(2600);
    t += 2000; // eight time constants of silence
    expect(rate.perSecond()).toBeLessThan(2);
  });
});
