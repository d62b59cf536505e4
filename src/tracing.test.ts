import { describe, expect, it } from 'vitest';
import { newTraceparent, traceIdOf, validTraceparent } from './tracing.ts';

describe('newTraceparent', () => {
  it('gives valid, distinct W3C traceparents across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const tp = newTraceparent();
      expect(validTraceparent(tp)).toBe(tp);
      seen.add(traceIdOf(tp)!);
    }
    expect(seen.size).toBe(1000);
  });
});
