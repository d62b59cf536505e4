// Hostile text outside the body, against the real server: query parameters, headers and path
// parameters of the order and admin routes. Every answer is a 4xx (never a 500), a problem names
// the parameter, and the orders and outbox tables stay as they were.
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ADMIN_PASSWORD, type TestContext } from './support/context.ts';
import { anyText, NUL, percentEncode, refusedText } from './support/hostile-text.ts';
import { PIZZA, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem;
const admin = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}` };

beforeAll(async () => {
  ctx = await createTestContext({ LOG_LEVEL: 'silent' });
  system = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

async function storedRows(): Promise<number> {
  const [row] = await ctx.sql`SELECT (SELECT count(*) FROM orders)::int + (SELECT count(*) FROM outbox)::int AS n`;
  return row!.n;
}

interface Answer {
  status: number;
  type: string;
  text: string;
}

async function send(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const res = await fetch(`${system.url}${path}`, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

// A 400 problem whose errors name `field` (or, for a field that is not there at all, hold it).
function expectRefusalNaming(res: Answer, field: string) {
  expect(res.status, res.text).toBe(400);
  expect(res.type).toContain('application/problem+json');
  const errors = (JSON.parse(res.text) as { errors?: Array<{ path: string }> }).errors ?? [];
  expect(
    errors.some((e) => e.path.includes(field)),
    res.text,
  ).toBe(true);
}

// Any query value: hostile text, or a value that parses but is out of range, percent-encoded as sent.
const queryValue = fc.oneof(refusedText, anyText(), fc.constantFrom('0', '51', '1001', '-1', '', 'pending', '%'));

describe('query parameters', () => {
  it('GET /orders refuses every bad cursor, limit and status with a 400 naming it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('cursor', 'limit', 'status'), queryValue, async (param, value) => {
        const res = await send('GET', `/orders?${param}=${percentEncode(value)}`, admin); // the list is staff's (or a customer's)
        if (res.status === 200) return; // a value that happens to be fine ('pending', a small limit)
        expectRefusalNaming(res, param);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses unknown query parameters with hostile names', async () => {
    await fc.assert(
      fc.asyncProperty(
        anyText(12).filter((k) => k.length > 0 && !['cursor', 'limit', 'status', 'state'].includes(k)),
        fc.constantFrom('/orders', '/admin/outbox?state=dead'),
        async (key, path) => {
          const res = await send('GET', `${path}${path.includes('?') ? '&' : '?'}${percentEncode(key)}=1`, admin);
          expect(res.status, res.text).toBe(400);
          expect(res.type).toContain('application/problem+json');
        },
      ),
      { numRuns: 80 },
    );
  });

  it('GET /admin/outbox refuses every bad state and limit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('state', 'limit'), queryValue, async (param, value) => {
        const query = param === 'state' ? `state=${percentEncode(value)}` : `state=dead&limit=${percentEncode(value)}`;
        const res = await send('GET', `/admin/outbox?${query}`, admin);
        if (res.status === 200) return;
        expectRefusalNaming(res, param);
      }),
      { numRuns: 100 },
    );
  });
});

describe('path parameters', () => {
  it('answers a hostile path no route has with a 404 problem', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(refusedText, anyText()), async (value) => {
        const res = await send('GET', `/nowhere/${percentEncode(value)}`);
        expect(res.status, res.text).toBe(404);
        expect(res.type).toContain('application/problem+json');
        JSON.parse(res.text); // well-formed JSON, whatever the path held
      }),
      { numRuns: 50 },
    );
  });

  it('refuses a hostile order or outbox id with a 400 naming it, and stores nothing', async () => {
    const before = await storedRows();
    await fc.assert(
      fc.asyncProperty(
        // Not '.' or '..': a URL resolves those dot segments (encoded or not) before any server sees
        // them, so /orders/.. is a request for / (a 404), not an id to refuse.
        fc.oneof(refusedText, anyText()).filter((v) => v.length > 0 && v !== '.' && v !== '..'),
        fc.constantFrom('GET /orders/', 'POST /admin/outbox/replay', 'POST /admin/outbox/requeue'),
        async (value, route) => {
          const [method, path] = route.split(' ') as [string, string];
          const id = percentEncode(value);
          const url = path === '/orders/' ? `/orders/${id}` : `/admin/outbox/${id}/${path.split('/').pop()}`;
          expectRefusalNaming(await send(method, url, admin), 'id');
        },
      ),
      { numRuns: 100 },
    );
    expect(await storedRows()).toBe(before);
  });
});

// One request written byte for byte (Latin-1), so header values fetch would refuse to send reach the
// server; the answer's status line, content type and body.
async function rawRequest(head: string, body: string): Promise<Answer> {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(system.port(), '127.0.0.1', () => {
      socket.write(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`, 'latin1');
      socket.write(body);
    });
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
  const [headers = '', ...rest] = raw.split('\r\n\r\n');
  let text = Buffer.from(rest.join('\r\n\r\n'), 'latin1').toString('utf8');
  if (/^transfer-encoding: chunked/im.test(headers)) text = text.replace(/^[0-9a-f]+\r\n|\r\n[0-9a-f]+\r\n/gi, '');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0), type: /^content-type: (.*)$/im.exec(headers)?.[1] ?? '', text };
}

describe('headers', () => {
  it('refuses an Idempotency-Key that is not visible ASCII (NUL and controls included), and stores nothing', async () => {
    const before = await storedRows();
    // Any Latin-1 bytes but CR and LF (which would end the header), at least one not visible ASCII.
    const key = fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 30 }).filter((v) => !/[\r\n]/.test(v) && /[^\x21-\x7e]/.test(v.trim() || ' '));
    await fc.assert(
      fc.asyncProperty(key, fc.constantFrom('/orders', '/pizza'), async (value, path) => {
        const body = path === '/pizza' ? PIZZA : { customer_name: 'A', address: 'B', items: [{ flavor: 'Funghi', size: 'small', quantity: 1 }] };
        const res = await rawRequest(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: ${value}\r\n`, JSON.stringify(body));
        expect(res.status, JSON.stringify(value)).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        // Node's HTTP parser answers a control character itself (a bare 400); the rest is ours.
        if (res.type.includes('problem')) expectRefusalNaming(res, 'idempotency-key');
      }),
      { numRuns: 80 },
    );
    expect(await storedRows()).toBe(before);
  });

  it('answers a raw NUL in a header with a 400 and stores nothing', async () => {
    const before = await storedRows();
    const res = await rawRequest(`POST /pizza HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: a${NUL}b\r\n`, JSON.stringify(PIZZA));
    expect(res.status).toBe(400);
    expect(await storedRows()).toBe(before);
  });
});
