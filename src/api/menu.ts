// The menu as the API prices orders with it: read from the menu table, kept in memory for
// MENU_CACHE_TTL_MS so an order costs no extra round trip, and read again at once when a client
// names an entry the copy does not have (at most once a second, so unknown names cannot flood
// Postgres). A price changed in the table applies to orders within MENU_CACHE_TTL_MS.
import type { Sql } from '../db/client.ts';
import { listMenu, type MenuEntry } from '../db/menu.ts';
import type { OrderItem } from '../db/orders.ts';
import type { FieldError } from './problem.ts';

const RELOAD_ON_MISS_MIN_GAP_MS = 1000;

export interface Menu {
  entries(): Promise<MenuEntry[]>;
  // The entry a client names (flavor in any case); `flavorKnown` tells an unknown flavor from a
  // size the flavor does not come in.
  find(flavor: string, size: OrderItem['size']): Promise<{ entry?: MenuEntry | undefined; flavorKnown: boolean }>;
}

const keyOf = (flavor: string, size: string) => `${flavor.trim().toLowerCase()}\n${size}`;

export function createMenu(load: () => Promise<MenuEntry[]>, ttlMs: number, now: () => number = Date.now): Menu {
  let loaded: { at: number; list: MenuEntry[]; byKey: Map<string, MenuEntry>; flavors: Set<string> } | undefined;
  let loading: Promise<NonNullable<typeof loaded>> | undefined;
  const reload = () => {
    loading ??= load()
      .then((list) => {
        const byKey = new Map(list.map((e) => [keyOf(e.flavor, e.size), e]));
        loaded = { at: now(), list, byKey, flavors: new Set(list.map((e) => e.flavor.toLowerCase())) };
        return loaded;
      })
      .finally(() => (loading = undefined));
    return loading;
  };
  const current = async () => (loaded && now() - loaded.at < ttlMs ? loaded : reload());
  return {
    entries: async () => (await current()).list,
    async find(flavor, size) {
      let menu = await current();
      if (!menu.byKey.has(keyOf(flavor, size)) && now() - menu.at >= RELOAD_ON_MISS_MIN_GAP_MS) menu = await reload();
      return { entry: menu.byKey.get(keyOf(flavor, size)), flavorKnown: menu.flavors.has(flavor.trim().toLowerCase()) };
    },
  };
}

export const menuFromDatabase = (sql: Sql, ttlMs: number): Menu => createMenu(() => listMenu(sql), ttlMs);

// An item as the client sent it: the price is optional, and checked when given.
export interface RequestedItem {
  flavor: string;
  size: OrderItem['size'];
  quantity: number;
  unit_price_cents?: number | undefined;
}

export type Priced = { ok: true; items: OrderItem[]; totalCents: number } | { ok: false; errors: FieldError[] };

// The order's items at the menu's prices (the flavor as the menu spells it), or a field error for
// each item that names no menu entry or gives another price.
export async function priceItems(menu: Menu, items: readonly RequestedItem[]): Promise<Priced> {
  const errors: FieldError[] = [];
  const priced: OrderItem[] = [];
  for (const [i, item] of items.entries()) {
    const { entry, flavorKnown } = await menu.find(item.flavor, item.size);
    if (!entry) {
      errors.push(
        flavorKnown
          ? { path: `items[${i}].size`, message: `${JSON.stringify(item.flavor)} does not come in ${item.size} (GET /menu lists what there is)` }
          : { path: `items[${i}].flavor`, message: `${JSON.stringify(item.flavor)} is not on the menu (GET /menu lists what there is)` },
      );
      continue;
    }
    if (item.unit_price_cents !== undefined && item.unit_price_cents !== entry.price_cents) {
      errors.push({ path: `items[${i}].unit_price_cents`, message: `a ${entry.size} ${entry.flavor} costs ${entry.price_cents} cents, not ${item.unit_price_cents}` });
      continue;
    }
    priced.push({ flavor: entry.flavor, size: entry.size, quantity: item.quantity, unit_price_cents: entry.price_cents });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, items: priced, totalCents: priced.reduce((sum, i) => sum + i.quantity * i.unit_price_cents, 0) };
}
