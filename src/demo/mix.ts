// The demo's orders: a repeatable random mix of the two order routes. Most are one customer's
// dinner; every tenth is a party order (at least 12 large pizzas, over $100), so a gateway with
// GATEWAY_DECLINE_OVER_CENTS set declines some of them. Every pizza is on the menu at its price:
// the service refuses any other (422).

export interface DemoRequest {
  path: '/orders' | '/pizza';
  body: Record<string, unknown>;
  totalCents: number;
}

export const PARTY_EVERY = 10;

type Size = 'small' | 'medium' | 'large';
// The menu the migration seeds (sql/orders/0002_customers_menu.sql), in cents by size;
// test/customers.test.ts checks it against GET /menu.
export const DEMO_MENU: Record<string, Record<Size, number>> = {
  Margherita: { small: 900, medium: 1250, large: 1500 },
  Marinara: { small: 800, medium: 1200, large: 1400 },
  Pepperoni: { small: 1100, medium: 1500, large: 1999 },
  Funghi: { small: 900, medium: 1200, large: 1450 },
  Diavola: { small: 850, medium: 1000, large: 1100 },
  Capricciosa: { small: 950, medium: 1150, large: 1300 },
  'Quattro Formaggi': { small: 1050, medium: 1400, large: 1750 },
  Hawaii: { small: 1000, medium: 1300, large: 1600 },
};
const FLAVORS = Object.keys(DEMO_MENU);
const FIRST_NAMES = ['Alice', 'Bob', 'Chiara', 'Dmitri', 'Esther', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Luca', 'Maya', 'Noor', 'Oskar', 'Priya'];
const LAST_NAMES = ['Rossi', 'Smith', 'Okafor', 'Tanaka', 'Novak', 'Silva', 'Müller', 'Haddad', 'Kowalski', 'Nguyen'];
const STREETS = ['Main St', 'Oak Ave', 'Harbour Rd', 'Via Roma', 'Elm St', 'Station Sq', 'Mill Lane', 'Canal St'];
const SIZES: readonly Size[] = ['small', 'medium', 'large'];

// mulberry32: a small, fast PRNG, so a seed repeats a run's mix exactly.
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createOrderMix(seed: number): (index: number) => DemoRequest {
  const random = seededRandom(seed);
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const customer = () => `${pick(FIRST_NAMES)} ${pick(LAST_NAMES)}`;
  const address = () => `${between(1, 250)} ${pick(STREETS)}`;
  const item = (size: Size, quantity: number) => {
    const flavor = pick(FLAVORS);
    return { flavor, size, quantity, unit_price_cents: DEMO_MENU[flavor]![size] };
  };
  const total = (items: Array<{ quantity: number; unit_price_cents: number }>) => items.reduce((sum, i) => sum + i.quantity * i.unit_price_cents, 0);

  return (index) => {
    if (index % PARTY_EVERY === PARTY_EVERY - 1) {
      // A party: 3 or 4 kinds of large pizza, 4 to 6 of each (at least 12 × $11).
      const items = Array.from({ length: between(3, 4) }, () => item('large', between(4, 6)));
      return { path: '/orders', body: { customer_name: customer(), address: address(), items }, totalCents: total(items) };
    }
    if (random() < 0.4) {
      // The original example's body: one kind of pizza, price in dollars.
      const size = pick(SIZES);
      const quantity = between(1, 3);
      const flavor = pick(FLAVORS);
      const unit = DEMO_MENU[flavor]![size];
      const body = { flavor, size: size[0]!.toUpperCase() + size.slice(1), quantity, price: unit / 100, address: address(), user_name: customer() };
      return { path: '/pizza', body, totalCents: quantity * unit };
    }
    const items = Array.from({ length: between(1, 3) }, () => item(pick(SIZES), between(1, 2)));
    return { path: '/orders', body: { customer_name: customer(), address: address(), items }, totalCents: total(items) };
  };
}
