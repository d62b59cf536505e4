// The demo's orders: a repeatable random mix of the two order routes. Most are one customer's
// dinner; every tenth is a party order (at least 8 large pizzas, over $100), so a gateway with
// GATEWAY_DECLINE_OVER_CENTS set declines some of them.

export interface DemoRequest {
  path: '/orders' | '/pizza';
  body: Record<string, unknown>;
  totalCents: number;
}

export const PARTY_EVERY = 10;

const FLAVORS = [
  'Margherita',
  'Pepperoni',
  'Quattro Formaggi',
  'Diavola',
  'Hawaiian',
  'Funghi',
  'Capricciosa',
  'Marinara',
  'Prosciutto e Rucola',
  'BBQ Chicken',
  'Veggie Supreme',
  'Napoletana',
];
const FIRST_NAMES = ['Alice', 'Bob', 'Chiara', 'Dmitri', 'Esther', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Luca', 'Maya', 'Noor', 'Oskar', 'Priya'];
const LAST_NAMES = ['Rossi', 'Smith', 'Okafor', 'Tanaka', 'Novak', 'Silva', 'Müller', 'Haddad', 'Kowalski', 'Nguyen'];
const STREETS = ['Main St', 'Oak Ave', 'Harbour Rd', 'Via Roma', 'Elm St', 'Station Sq', 'Mill Lane', 'Canal St'];
type Size = 'small' | 'medium' | 'large';
// Price range of one pizza, in cents, by size.
const PRICES: Record<Size, [number, number]> = { small: [850, 1150], medium: [1200, 1600], large: [1500, 2200] };
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
  // Prices end in .49 or .99, like a menu.
  const price = (size: Size) => {
    const [lo, hi] = PRICES[size];
    return Math.floor(between(lo, hi) / 100) * 100 + (random() < 0.5 ? 49 : 99);
  };
  const customer = () => `${pick(FIRST_NAMES)} ${pick(LAST_NAMES)}`;
  const address = () => `${between(1, 250)} ${pick(STREETS)}`;
  const item = (size: Size, quantity: number) => ({ flavor: pick(FLAVORS), size, quantity, unit_price_cents: price(size) });
  const total = (items: Array<{ quantity: number; unit_price_cents: number }>) => items.reduce((sum, i) => sum + i.quantity * i.unit_price_cents, 0);

  return (index) => {
    if (index % PARTY_EVERY === PARTY_EVERY - 1) {
      // A party: 2 to 4 kinds of large pizza, 4 to 6 of each.
      const items = Array.from({ length: between(2, 4) }, () => item('large', between(4, 6)));
      return { path: '/orders', body: { customer_name: customer(), address: address(), items }, totalCents: total(items) };
    }
    if (random() < 0.4) {
      // The original example's body: one kind of pizza, price in dollars.
      const size = pick(SIZES);
      const quantity = between(1, 3);
      const unit = price(size);
      const body = { flavor: pick(FLAVORS), size: size[0]!.toUpperCase() + size.slice(1), quantity, price: unit / 100, address: address(), user_name: customer() };
      return { path: '/pizza', body, totalCents: quantity * unit };
    }
    const items = Array.from({ length: between(1, 3) }, () => item(pick(SIZES), between(1, 2)));
    return { path: '/orders', body: { customer_name: customer(), address: address(), items }, totalCents: total(items) };
  };
}
