// Slow and many connections against the real server: a slowloris (headers sent a line at a time)
// and connections that send nothing are closed with a 408 within the headers timeout, the API
// keeps answering /health/live while a thousand of them are held, a slow body is cut at the
// request timeout, an idle keep-alive connection at its timeout, oversized headers get 431, and
// past HTTP_MAX_CONNECTIONS new connections are refused at once.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionsCheckingIntervalMs, openFilesLimit } from '../src/api/http-server.ts';
import { loadConfig } from '../src/config.ts';
import { createTestContext, type TestContext } from './support/context.ts';
import { startSystem, type RunningSystem } from './support/system.ts';

// Long enough that all the connections are open before the first one times out, on a loaded machine too.
const HEADERS_TIMEOUT_MS = 3000;
const REQUEST_TIMEOUT_MS = 4000;
const KEEPALIVE_TIMEOUT_MS = 1000;
// How long past its timeout a connection may live here: Node's check interval, and a generous
// allowance for a loaded two-core machine (the point is seconds, where Node's defaults take 60–90 s).
const allowedMs = (timeoutMs: number) => (timeoutMs + connectionsCheckingIntervalMs(HEADERS_TIMEOUT_MS)) * 4;

// Both ends of each connection live in this process: two files per connection, and room for the pools.
const CONNECTIONS = Math.min(1000, Math.floor(((openFilesLimit() ?? 4000) - 400) / 2));

let ctx: TestContext;
let system: RunningSystem;
const sockets: Socket[] = [];

beforeAll(async () => {
  ctx = await createTestContext({
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HTTP_KEEPALIVE_TIMEOUT_MS: String(KEEPALIVE_TIMEOUT_MS),
  });
  system = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await system?.stop();
  await ctx?.cleanup();
});

interface Held {
  socket: Socket;
  openedAt: number;
  received: string;
  closedAt: number | undefined;
  closed: Promise<void>;
}

async function open(port: number): Promise<Held> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const held: Held = { socket, openedAt: 0, received: '', closedAt: undefined, closed: Promise.resolve() };
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (held.received += d));
  socket.on('error', () => {}); // a reset is a close too; what was received tells them apart
  held.closed = new Promise((resolve) =>
    socket.once('close', () => {
      held.closedAt = Date.now();
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  held.openedAt = Date.now();
  return held;
}

async function openMany(port: number, n: number): Promise<Held[]> {
  const held: Held[] = [];
  // In batches, so the listen backlog never overflows into SYN retries.
  for (let i = 0; i < n; i += 100) held.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => open(port)))));
  return held;
}

// Resolves when every connection has closed; fails naming how many are still open after `deadlineMs`.
async function allClosed(held: Held[], deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${held.filter((h) => h.closedAt === undefined).length} of ${held.length} connections still open after ${deadlineMs} ms`)),
      deadlineMs,
    );
  });
  try {
    await Promise.race([Promise.all(held.map((h) => h.closed)), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function healthStatus(url: string): Promise<number> {
  const res = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return res.status;
}

describe('slow connections', () => {
  it(`closes ${CONNECTIONS} slowloris and silent connections with a 408 within the headers timeout, and /health/live keeps answering`, async () => {
    const held = await openMany(system.port(), CONNECTIONS);
    const slow = held.filter((_, i) => i % 2 === 0);
    for (const h of slow) h.socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n');
    // One more header line every so often: each line arrives well within any idle timeout.
    let line = 0;
    const drip = setInterval(() => {
      line++;
      for (const h of slow) if (h.closedAt === undefined) h.socket.write(`X-Slow-${line}: 1\r\n`);
    }, 300);

    const answers: Array<{ status: number; open: number }> = [];
    let checking = true;
    const checks = (async () => {
      while (checking) {
        const status = await healthStatus(system.url);
        answers.push({ status, open: held.filter((h) => h.closedAt === undefined).length });
      }
    })();
    try {
      await allClosed(held, allowedMs(HEADERS_TIMEOUT_MS));
    } finally {
      clearInterval(drip);
      checking = false;
      await checks;
    }

    for (const h of held) {
      expect(h.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(h.closedAt! - h.openedAt).toBeLessThan(allowedMs(HEADERS_TIMEOUT_MS));
    }
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    // At least one answer came while every slow connection was still held.
    expect(answers.some((a) => a.open === CONNECTIONS)).toBe(true);
  }, 120_000);

  it('cuts a request whose body arrives too slowly at the request timeout', async () => {
    const h = await open(system.port());
    h.socket.write('POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const drip = setInterval(() => h.closedAt === undefined && h.socket.write(' '), 300);
    try {
      await allClosed([h], allowedMs(REQUEST_TIMEOUT_MS));
    } finally {
      clearInterval(drip);
    }
    expect(h.received).toMatch(/^HTTP\/1\.1 408 /);
  }, 60_000);

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const h = await open(system.port());
    h.socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await allClosed([h], allowedMs(KEEPALIVE_TIMEOUT_MS));
    expect(h.received).toMatch(/^HTTP\/1\.1 200 /);
    expect(h.received).toMatch(/keep-alive/i);
  }, 60_000);

  it('answers 431 to headers over HTTP_MAX_HEADER_BYTES', async () => {
    const res = await fetch(`${system.url}/health/live`, { headers: { 'x-padding': 'a'.repeat(ctx.config.HTTP_MAX_HEADER_BYTES + 1) } });
    expect(res.status).toBe(431);
  });
});

describe('the connection cap', () => {
  it('refuses connections past HTTP_MAX_CONNECTIONS at once, and serves again when held ones end', async () => {
    const cap = 20;
    const capped = await startSystem(ctx, ['api'], loadConfig({ ...ctx.env, HTTP_MAX_CONNECTIONS: String(cap) }));
    try {
      const held = await openMany(capped.port(), cap);
      const refused = await open(capped.port());
      refused.socket.write('GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n');
      // Refused: closed without an answer, long before any timeout could have closed it.
      await allClosed([refused], allowedMs(HEADERS_TIMEOUT_MS));
      expect(refused.received).toBe('');
      expect(held.every((h) => h.closedAt === undefined)).toBe(true);

      await allClosed(held, allowedMs(HEADERS_TIMEOUT_MS));
      expect(await healthStatus(capped.url)).toBe(200);
    } finally {
      await capped.stop();
    }
  }, 60_000);
});
