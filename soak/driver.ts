// Orders at a steady rate, round-robin over the API processes, over keep-alive connections, like a
// careful client: an order that meets a network error, a 503 (Postgres away), a 409 (its key in
// progress) or a 429 is sent again with the same Idempotency-Key after a pause, up to a bound.
// Only counts are kept (an hour of orders would not fit in a list worth keeping); the latencies of
// the current sample interval are kept until the sampler takes them.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

// Medium pizzas of the seeded menu (sql/orders/0002_customers_menu.sql) at their prices.
const MENU: ReadonlyArray<readonly [string, number]> = [
  ['Margherita', 1250],
  ['Funghi', 1200],
  ['Diavola', 1000],
  ['Capricciosa', 1150],
  ['Hawaii', 1300],
];

function orderBody(index: number): string {
  const [flavor, unit] = MENU[index % MENU.length]!;
  return JSON.stringify({
    customer_name: `Soak ${index}`,
    address: `${index} Soak Street`,
    items: [{ flavor, size: 'medium', quantity: 1 + (index % 3), unit_price_cents: unit }],
  });
}

export interface DriverCounts {
  sent: number; // orders begun (first attempts)
  accepted: number; // orders answered 201 (at some attempt)
  gaveUp: number; // orders that never got a 201 within the retry bound
  inFlight: number;
  skipped: number; // orders not sent because too many were in flight (the client backs off)
  attempts: Record<string, number>; // every attempt by status ("error" for a network error)
  errors: Record<string, number>; // network errors by code (ECONNREFUSED, ECONNRESET, timeout, …)
}

const MAX_ATTEMPTS = 40;
const RETRY_PAUSE_MS = 500;
const MAX_IN_FLIGHT = 400;
const TIMEOUT_MS = 15_000;

export class OrderDriver {
  readonly counts: DriverCounts = { sent: 0, accepted: 0, gaveUp: 0, inFlight: 0, skipped: 0, attempts: {}, errors: {} };
  private latencies: number[] = [];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private timer: NodeJS.Timeout | undefined;
  private rr = 0;
  private running = new Set<Promise<void>>();

  constructor(
    private readonly urls: () => string[],
    private readonly rate: number,
  ) {}

  start(): void {
    const t0 = Date.now();
    let due = 0;
    this.timer = setInterval(() => {
      const target = Math.floor(((Date.now() - t0) * this.rate) / 1000);
      while (due < target) {
        due++;
        if (this.counts.inFlight >= MAX_IN_FLIGHT) {
          this.counts.skipped++;
          continue;
        }
        const p = this.place(this.counts.sent++).finally(() => this.running.delete(p));
        this.running.add(p);
      }
    }, 20);
  }

  // Stops sending; waits (bounded) for the orders in flight, retries included.
  async stop(timeoutMs = 60_000): Promise<void> {
    clearInterval(this.timer);
    await Promise.race([Promise.all([...this.running]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.agent.destroy();
  }

  // The latencies of every attempt since the last call (ms).
  takeLatencies(): number[] {
    const l = this.latencies;
    this.latencies = [];
    return l;
  }

  private async place(index: number): Promise<void> {
    this.counts.inFlight++;
    const body = orderBody(index);
    const key = randomUUID();
    try {
      for (let n = 1; n <= MAX_ATTEMPTS; n++) {
        const urls = this.urls();
        const status = await this.post(urls[this.rr++ % urls.length]!, body, key);
        this.counts.attempts[status] = (this.counts.attempts[status] ?? 0) + 1;
        if (status === '201') {
          this.counts.accepted++;
          return;
        }
        if (!['error', '503', '409', '429'].includes(status)) break;
        await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
      }
      this.counts.gaveUp++;
    } finally {
      this.counts.inFlight--;
    }
  }

  private post(baseUrl: string, body: string, key: string, retryReset = true): Promise<string> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      const req = http.request(
        new URL('/orders', baseUrl),
        {
          method: 'POST',
          agent: this.agent,
          timeout: TIMEOUT_MS,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'idempotency-key': key },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            this.latencies.push(performance.now() - t0);
            resolve(String(res.statusCode));
          });
          res.on('error', () => resolve('error'));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed while idle: once more on a fresh socket (same key).
        if (retryReset && req.reusedSocket && err.code === 'ECONNRESET') return void this.post(baseUrl, body, key, false).then(resolve);
        const code = err.code ?? err.message;
        this.counts.errors[code] = (this.counts.errors[code] ?? 0) + 1;
        resolve('error');
      });
      req.end(body);
    });
  }
}
