// Places the demo's orders at a fixed rate, open loop: order i is due i/rate seconds after the
// start whatever the earlier responses did, so a slow service shows as latency, not as a lower
// rate. Only the concurrency cap can hold the schedule back (the summary shows the rate achieved).
// Each order carries an Idempotency-Key, so the one retry after a network error or a 503 is safe.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DemoRequest } from './mix.ts';

// How many orders are due `elapsedMs` after the start: order 0 at once, then one every 1/rate s.
export function dueCount(elapsedMs: number, rate: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * rate) / 1000 + 1e-9) + 1);
}

// When order `index` is due, in ms after the start.
export const dueAtMs = (index: number, rate: number): number => (index * 1000) / rate;

export interface Placement {
  index: number;
  ok: boolean;
  orderId?: string;
  // The last answer: an HTTP status, or 'network' when none came.
  outcome: number | 'network';
  retried: boolean;
  latencyMs: number;
  error?: string;
}

export interface PlaceOptions {
  url: string;
  orders: number;
  rate: number;
  concurrency: number;
  request: (index: number) => DemoRequest;
  keyPrefix: string;
  onPlaced: (placement: Placement) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  requestTimeoutMs?: number;
  now?: () => number;
}

export const REQUEST_TIMEOUT_MS = 15_000;
const MAX_RETRY_WAIT_MS = 5000;

// Resolves once every order was sent and answered (or the signal aborted the schedule).
export async function placeOrders(opts: PlaceOptions): Promise<void> {
  const now = opts.now ?? performance.now.bind(performance);
  const start = now();
  const inFlight = new Set<Promise<void>>();
  let next = 0;
  while (next < opts.orders && !opts.signal?.aborted) {
    const due = dueCount(now() - start, opts.rate, opts.orders);
    while (next < due && inFlight.size < opts.concurrency) {
      const index = next++;
      const p = placeOne(opts, index).then(opts.onPlaced);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    if (next >= opts.orders) break;
    const wait = Math.max(0, start + dueAtMs(next, opts.rate) - now());
    // At the cap, wait for a slot; the loop then sends everything that came due meanwhile.
    if (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
    else await sleep(wait, undefined, { signal: opts.signal }).catch(() => {});
  }
  await Promise.all(inFlight);
}

export async function placeOne(opts: Pick<PlaceOptions, 'url' | 'request' | 'keyPrefix' | 'fetch' | 'requestTimeoutMs' | 'now'>, index: number): Promise<Placement> {
  const now = opts.now ?? performance.now.bind(performance);
  const doFetch = opts.fetch ?? fetch;
  const req = opts.request(index);
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `${opts.keyPrefix}-${index}` },
    body: JSON.stringify(req.body),
  };
  const started = now();
  let retried = false;
  for (;;) {
    let outcome: number | 'network';
    let error: string | undefined;
    let retryAfterMs = 200;
    try {
      const res = await doFetch(`${opts.url}${req.path}`, { ...init, signal: AbortSignal.timeout(opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS) });
      outcome = res.status;
      if (res.status === 201) {
        const body = (await res.json()) as { id?: unknown };
        if (typeof body.id === 'string') return { index, ok: true, orderId: body.id, outcome, retried, latencyMs: now() - started };
        error = 'the 201 response has no order id';
      } else {
        error = await problemTitle(res);
        const after = Number(res.headers.get('retry-after'));
        if (Number.isFinite(after) && after > 0) retryAfterMs = Math.min(after * 1000, MAX_RETRY_WAIT_MS);
      }
    } catch (err) {
      outcome = 'network';
      error = (err as Error).message;
    }
    if (!retried && (outcome === 'network' || outcome === 503)) {
      retried = true;
      await sleep(retryAfterMs);
      continue;
    }
    return { index, ok: false, outcome, retried, latencyMs: now() - started, error };
  }
}

async function problemTitle(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const problem = JSON.parse(text) as { title?: string; detail?: string; errors?: Array<{ path: string; message: string }> };
    const first = problem.errors?.[0];
    return [problem.title, problem.detail, first && `${first.path}: ${first.message}`].filter(Boolean).join(': ') || `HTTP ${res.status}`;
  } catch {
    return text.slice(0, 200) || `HTTP ${res.status}`;
  }
}
