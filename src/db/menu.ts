// Query functions for the menu: the shop's prices, in cents.
import type { Db } from './client.ts';

export interface MenuEntry {
  flavor: string;
  size: 'small' | 'medium' | 'large';
  price_cents: number;
}

// The whole menu, by flavor then size (small, medium, large).
export async function listMenu(db: Db): Promise<MenuEntry[]> {
  return db<MenuEntry[]>`
    SELECT flavor, size, price_cents FROM menu
    ORDER BY flavor, array_position(ARRAY['small', 'medium', 'large'], size)`;
}
