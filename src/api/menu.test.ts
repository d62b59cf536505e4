import { describe, expect, it } from 'vitest';
import type { MenuEntry } from '../db/menu.ts';
import { createMenu, priceItems } from './menu.ts';

function fakeMenu(ttlMs: number) {
  let clock = 0;
  let loads = 0;
  const table: MenuEntry[] = [{ flavor: 'Pepperoni', size: 'large', price_cents: 1999 }];
  const menu = createMenu(
    async () => {
      loads++;
      return table.map((e) => ({ ...e }));
    },
    ttlMs,
    () => clock,
  );
  return { menu, table, advance: (ms: number) => (clock += ms), loads: () => loads };
}

describe('the menu the API prices with', () => {
  it('is read once per time to live, and at once for a name it does not know (at most once a second)', async () => {
    const m = fakeMenu(5000);
    expect((await m.menu.find('pepperoni', 'large')).entry?.price_cents).toBe(1999);
    expect(m.loads()).toBe(1);
    m.table.push({ flavor: 'Calzone', size: 'large', price_cents: 1500 });
    expect((await m.menu.find('Calzone', 'large')).entry).toBeUndefined(); // read less than a second ago
    m.advance(1000);
    expect((await m.menu.find('Calzone', 'large')).entry?.price_cents).toBe(1500);
    expect(m.loads()).toBe(2);
    m.table[0]!.price_cents = 2099;
    expect((await m.menu.find('Pepperoni', 'large')).entry?.price_cents).toBe(1999); // within the TTL
    m.advance(5000);
    expect((await m.menu.find('Pepperoni', 'large')).entry?.price_cents).toBe(2099);
  });

  it('prices items at the menu, naming each item it refuses', async () => {
    const { menu } = fakeMenu(5000);
    expect(await priceItems(menu, [{ flavor: ' PEPPERONI ', size: 'large', quantity: 2 }])).toEqual({
      ok: true,
      items: [{ flavor: 'Pepperoni', size: 'large', quantity: 2, unit_price_cents: 1999 }],
      totalCents: 3998,
    });
    const refused = await priceItems(menu, [
      { flavor: 'Pepperoni', size: 'large', quantity: 1, unit_price_cents: 1999 },
      { flavor: 'Pepperoni', size: 'large', quantity: 1, unit_price_cents: 1 },
      { flavor: 'Pepperoni', size: 'small', quantity: 1 },
      { flavor: 'Calzone', size: 'large', quantity: 1 },
    ]);
    expect(refused.ok ? [] : refused.errors.map((e) => e.path)).toEqual(['items[1].unit_price_cents', 'items[2].size', 'items[3].flavor']);
  });
});
