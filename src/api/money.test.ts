import { describe, expect, it } from 'vitest';
import { dollarsToCents } from './money.ts';

describe('dollarsToCents', () => {
  it.each([
    [19.99, 1999],
    [0.01, 1],
    [0.1, 10],
    [1, 100],
    [1.1, 110],
    [4.35, 435],
    [1234567.89, 123456789],
  ])('converts %d dollars to %d cents exactly', (dollars, cents) => {
    expect(dollarsToCents(dollars)).toBe(cents);
  });

  it('accepts every two-decimal amount up to $10,000', () => {
    for (let cents = 1; cents <= 1_000_000; cents++) {
      const dollars = Number(`${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`);
      if (dollarsToCents(dollars) !== cents) throw new Error(`${dollars} did not convert to ${cents}`);
    }
  });

  it.each([19.999, 0.001, 0.015, Number.NaN, Number.POSITIVE_INFINITY, 1e300])('rejects %d', (dollars) => {
    expect(dollarsToCents(dollars)).toBeUndefined();
  });
});
