import { describe, expect, it } from 'vitest';
import { dueAtMs, dueCount, placeOne, placeOrders, type Placement } from './driver.ts';
import type { DemoRequest } from './mix.ts';

const request = (): DemoRequest => ({ path: '/pizza', body: { flavor: 'Margherita' }, totalCents: 999 });
const created = (id: string) => new Response(JSON.stringify({ id }), { status: 201, headers: { 'content-type': 'application/json' } });
const problem = (status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ title: 'Service unavailable', status }), { status, headers: { 'content-type': 'application/problem+json', ...headers } });

describe('the pacing schedule', () => {
  it('sends order 0 at once, then one every 1/rate seconds, never more than the total', () => {
    expect(dueCount(-1, 10, 5)).toBe(0);
    expect(dueCount(0, 10, 5)).toBe(1);
    expect(dueCount(99, 10, 5)).toBe(1);
    expect(dueCount(100, 10, 5)).toBe(2);
    expect(dueCount(250, 10, 5)).toBe(3);
    expect(dueCount(10_000, 10, 5)).toBe(5);
    expect(dueCount(1000, 3, 100)).toBe(4); // 0, 333.3, 666.7, 1000 ms
    expect(dueAtMs(3, 3)).toBe(1000);
    expect(dueAtMs(4, 50)).toBe(80);
  });

  it('catches up after a late timer instead of lowering the rate', () => {
    // A timer that fired 120 ms late at 50/s: six more orders are due at once.
    expect(dueCount(220, 50, 100) - dueCount(100, 50, 100)).toBe(6);
  });
});

describe('placeOne', () => {
  it('retries once after a network error with the same Idempotency-Key', async () => {
    const calls: Array<{ url: string; key: string | null; body: unknown }> = [];
    const fetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, key: new Headers(init.headers).get('idempotency-key'), body: init.body });
      if (calls.length === 1) throw new TypeError('fetch failed');
      return created('order-1');
    }) as typeof globalThis.fetch;
    const p = await placeOne({ url: 'http://svc', request, keyPrefix: 'demo-x', fetch }, 7);
    expect(p).toMatchObject({ index: 7, ok: true, orderId: 'order-1', outcome: 201, retried: true });
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.key)).toEqual(['demo-x-7', 'demo-x-7']);
    expect(calls[0]!.body).toBe(calls[1]!.body);
    expect(calls[0]!.url).toBe('http://svc/pizza');
  });

  it('retries a 503 once, then reports it', async () => {
    let n = 0;
    const fetch = (async () => {
      n++;
      return problem(503, { 'retry-after': '0' });
    }) as typeof globalThis.fetch;
    const p = await placeOne({ url: 'http://svc', request, keyPrefix: 'k', fetch }, 0);
    expect(n).toBe(2);
    expect(p).toMatchObject({ ok: false, outcome: 503, retried: true, error: 'Service unavailable' });
  });

  it('does not retry a refused request', async () => {
    let n = 0;
    const fetch = (async () => {
      n++;
      return problem(400);
    }) as typeof globalThis.fetch;
    const p = await placeOne({ url: 'http://svc', request, keyPrefix: 'k', fetch }, 0);
    expect(n).toBe(1);
    expect(p).toMatchObject({ ok: false, outcome: 400, retried: false });
  });
});

describe('placeOrders', () => {
  it('sends every order in order, on schedule, whatever the responses take', async () => {
    const sentAt: number[] = [];
    const placed: Placement[] = [];
    const start = performance.now();
    let inFlight = 0;
    let most = 0;
    const fetch = (async () => {
      sentAt.push(performance.now() - start);
      most = Math.max(most, ++inFlight);
      // Far slower than the 10 ms between orders, so later orders leave while it waits even when a
      // busy machine holds the event loop up for a while.
      await new Promise((r) => setTimeout(r, 500));
      inFlight--;
      return created(`o${sentAt.length}`);
    }) as typeof globalThis.fetch;
    await placeOrders({ url: 'http://svc', orders: 6, rate: 100, concurrency: 10, request, keyPrefix: 'k', fetch, onPlaced: (p) => placed.push(p) });
    expect(placed.map((p) => p.index).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(placed.every((p) => p.ok)).toBe(true);
    // On schedule: the sixth order is due 50 ms after the first, and not earlier.
    expect(sentAt[5]! - sentAt[0]!).toBeGreaterThanOrEqual(45);
    // Open loop: later orders left while earlier ones were still waiting for their answer.
    expect(most).toBeGreaterThan(1);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const fetch = (async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      return created('o');
    }) as typeof globalThis.fetch;
    let n = 0;
    await placeOrders({ url: 'http://svc', orders: 12, rate: 10_000, concurrency: 3, request, keyPrefix: 'k', fetch, onPlaced: () => n++ });
    expect(n).toBe(12);
    expect(most).toBe(3);
  });

  it('stops sending when aborted, and waits for the requests in flight', async () => {
    const ac = new AbortController();
    const placed: Placement[] = [];
    const fetch = (async () => created('o')) as typeof globalThis.fetch;
    setTimeout(() => ac.abort(), 30);
    await placeOrders({ url: 'http://svc', orders: 1000, rate: 100, concurrency: 5, request, keyPrefix: 'k', fetch, signal: ac.signal, onPlaced: (p) => placed.push(p) });
    expect(placed.length).toBeGreaterThan(0);
    expect(placed.length).toBeLessThan(100);
  });
});
