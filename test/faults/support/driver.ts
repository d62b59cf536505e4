// Drives orders through HTTP like a crowd of clients: `count` POST /orders at a modest rate,
// round-robin over the API processes, every answer recorded with its status and latency. Bounded:
// each request gives up after `requestTimeoutMs`, and the run ends by itself.
//
// With `retry`, an order that met a network error (an API process that just stopped) or a 503 is
// sent again to the next API with the same Idempotency-Key, as a careful client would, so the
// driver knows which orders it placed even across restarts.
import { randomUUID } from 'node:crypto';

export interface Attempt {
  url: string;
  status: number | 'error';
  ms: number;
  error?: string;
}

export interface DrivenOrder {
  index: number;
  key: string;
  totalCents: number;
  attempts: Attempt[];
  // Set once an attempt answered 201.
  id?: string;
}

export interface DriveResult {
  orders: DrivenOrder[];
  // Ids of the orders the API acknowledged with 201.
  accepted: string[];
  attempts: Attempt[];
  // status (or "error") → count, over every attempt.
  statuses: Record<string, number>;
  elapsedMs: number;
}

export interface DriveOptions {
  // The API base URLs, asked again for every request (processes come and go).
  urls: () => string[];
  count: number;
  ratePerSec: number;
  maxInFlight?: number;
  retry?: { maxAttempts: number; pauseMs: number };
  requestTimeoutMs?: number;
  name?: string;
}

export interface Drive {
  // Orders sent so far (first attempts).
  sent(): number;
  // Orders with a final answer so far.
  finished(): number;
  done: Promise<DriveResult>;
}

// Medium pizzas of the seeded menu (sql/orders/0002_customers_menu.sql) with their prices.
const MENU_MEDIUMS: ReadonlyArray<readonly [string, number]> = [
  ['Margherita', 1250],
  ['Funghi', 1200],
  ['Diavola', 1000],
  ['Capricciosa', 1150],
  ['Hawaii', 1300],
];

export function orderBody(name: string, index: number) {
  // At menu prices (the API refuses others): a medium of one of these, several of them.
  const [flavor, unit] = MENU_MEDIUMS[index % MENU_MEDIUMS.length]!;
  const quantity = 1 + (index % 3);
  return {
    body: { customer_name: `${name} ${index}`, address: `${index} Fault Lane`, items: [{ flavor, size: 'medium', quantity, unit_price_cents: unit }] },
    totalCents: quantity * unit,
  };
}

export function driveOrders(opts: DriveOptions): Drive {
  const name = opts.name ?? 'Fault';
  const timeoutMs = opts.requestTimeoutMs ?? 15_000;
  const maxInFlight = opts.maxInFlight ?? 32;
  const orders: DrivenOrder[] = [];
  const attempts: Attempt[] = [];
  let sent = 0;
  let finished = 0;
  let rr = 0;
  let inFlight = 0;
  const started = Date.now();

  const post = async (order: DrivenOrder, body: unknown): Promise<Attempt> => {
    const urls = opts.urls();
    const url = urls[rr++ % urls.length]!;
    const t0 = performance.now();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.retry) headers['idempotency-key'] = order.key;
    try {
      const res = await fetch(`${url}/orders`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      const json = (await res.json().catch(() => ({}))) as { id?: string };
      if (res.status === 201) order.id = json.id;
      return { url, status: res.status, ms: performance.now() - t0 };
    } catch (err) {
      // fetch says "fetch failed"; the cause says why (ECONNREFUSED, a timeout, …).
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { url, status: 'error', ms: performance.now() - t0, error: cause?.code ?? cause?.message ?? (err as Error).message };
    }
  };

  const place = async (index: number) => {
    const { body, totalCents } = orderBody(name, index);
    const order: DrivenOrder = { index, key: randomUUID(), totalCents, attempts: [] };
    orders.push(order);
    for (let n = 1; ; n++) {
      const attempt = await post(order, body);
      order.attempts.push(attempt);
      attempts.push(attempt);
      const again = opts.retry && n < opts.retry.maxAttempts && (attempt.status === 'error' || attempt.status === 503 || attempt.status === 409);
      if (!again) return;
      await new Promise((r) => setTimeout(r, opts.retry!.pauseMs));
    }
  };

  const done = (async (): Promise<DriveResult> => {
    const running: Promise<void>[] = [];
    const gapMs = 1000 / opts.ratePerSec;
    for (let i = 0; i < opts.count; i++) {
      // Paced against the start, so a slow answer does not slow the arrivals down.
      const due = started + i * gapMs;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      while (inFlight >= maxInFlight) await new Promise((r) => setTimeout(r, 5));
      inFlight++;
      sent++;
      running.push(
        place(i).finally(() => {
          inFlight--;
          finished++;
        }),
      );
    }
    await Promise.all(running);
    const statuses: Record<string, number> = {};
    for (const a of attempts) statuses[String(a.status)] = (statuses[String(a.status)] ?? 0) + 1;
    return {
      orders,
      accepted: orders.flatMap((o) => (o.id ? [o.id] : [])),
      attempts,
      statuses,
      elapsedMs: Date.now() - started,
    };
  })();

  return { sent: () => sent, finished: () => finished, done };
}

// p50, p99 and max of some latencies, rounded, for the test's log line.
export function latencySummary(ms: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: Math.round(sorted[sorted.length - 1] ?? 0) };
}
