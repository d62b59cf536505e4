import { describe, expect, it } from 'vitest';
import { CreateOrderSchema, PizzaSchema, pizzaToOrder } from '../api/schemas.ts';
import { createOrderMix, PARTY_EVERY } from './mix.ts';

const take = (seed: number, n: number) => {
  const mix = createOrderMix(seed);
  return Array.from({ length: n }, (_, i) => mix(i));
};

describe('createOrderMix', () => {
  it('repeats a run exactly for the same seed, and differs for another', () => {
    expect(take(7, 50)).toEqual(take(7, 50));
    expect(take(7, 50)).not.toEqual(take(8, 50));
  });

  it('makes bodies each route accepts, with the total the service will compute', () => {
    const requests = take(123, 300);
    for (const r of requests) {
      const order = r.path === '/pizza' ? pizzaToOrder(PizzaSchema.parse(r.body)) : CreateOrderSchema.parse(r.body);
      expect(order.items.reduce((sum, i) => sum + i.quantity * (i.unit_price_cents ?? 0), 0)).toBe(r.totalCents);
    }
    expect(requests.filter((r) => r.path === '/pizza').length).toBeGreaterThan(60);
    expect(requests.filter((r) => r.path === '/orders').length).toBeGreaterThan(60);
  });

  it('makes every tenth order a party order over $100, so a decline limit catches some', () => {
    for (const seed of [1, 2, 3]) {
      take(seed, 100).forEach((r, i) => {
        if (i % PARTY_EVERY === PARTY_EVERY - 1) expect(r.totalCents).toBeGreaterThan(10_000);
      });
    }
  });
});
