// The staff area through the real server: cross-origin state changes refused for every content
// type (Origin and Sec-Fetch-Site as browsers send them), wrong passwords throttled per client in
// Redis across two API instances, /metrics behind staff auth, audit lines for every change, and
// no password in the JSON log.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSystem } from '../src/system.ts';
import { loadConfig } from '../src/config.ts';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from './support/context.ts';
import { startSystem, type RunningSystem } from './support/system.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const STAFF = { authorization: basic('admin', TEST_ADMIN_PASSWORD) };

// A logger whose JSON lines the test can read.
function capturedLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const log = pino({ level: 'info', base: { role: 'test' } }, stream);
  return { log, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

let ctx: TestContext;
let system: RunningSystem;
const captured = capturedLogger();

beforeAll(async () => {
  ctx = await createTestContext({ ADMIN_LOGIN_MAX_FAILURES: '3', TRUSTED_PROXY_HOPS: '1' });
  system = Object.assign(createSystem(ctx.config, captured.log, ['api', 'relay', 'workers']), { url: '' });
  await system.start();
  system.url = `http://127.0.0.1:${system.port()}`;
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

// The order routes are not this file's subject: an outbox id nobody has; a request that gets past
// the guards answers 404 for it, one that does not 401, 403 or 429.
const eventId = () => randomUUID();
const jobCount = async () => Object.values(await system.queues.payments.getJobCounts()).reduce((a, b) => a + b, 0);

const BODIES: [string, Record<string, string>, string | undefined][] = [
  ['a url-encoded form', { 'content-type': 'application/x-www-form-urlencoded' }, 'name=x&data=%7B%7D'],
  ['a multipart form', { 'content-type': 'multipart/form-data; boundary=b' }, '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n'],
  ['a text/plain form', { 'content-type': 'text/plain' }, '{"name":"x","data":{},"options":{}}='],
  ['JSON', { 'content-type': 'application/json' }, '{"name":"x","data":{},"options":{}}'],
  ['an empty body', {}, undefined],
];
const FOREIGN: [string, Record<string, string>][] = [
  ['Origin of another site', { origin: 'https://attacker.example' }],
  ['Origin of another port on this host', { origin: 'http://127.0.0.1:1' }],
  ['Origin null', { origin: 'null' }],
  ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site', origin: 'https://attacker.example' }],
  ['Sec-Fetch-Site same-site', { 'sec-fetch-site': 'same-site' }],
];

describe('cross-origin state changes', () => {
  it.each(BODIES)('refuses %s from another origin with 403, on the outbox replay and Bull Board add, and changes nothing', async (_, type, body) => {
    const id = eventId();
    const jobsBefore = await jobCount();
    for (const [what, foreign] of FOREIGN) {
      for (const path of [`/admin/outbox/${id}/replay`, '/admin/queues/api/queues/payments/add']) {
        const res = await fetch(`${system.url}${path}`, { method: 'POST', headers: { ...STAFF, ...type, ...foreign }, body });
        expect(res.status, `${what}: ${path}`).toBe(403);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
      }
    }
    const put = await fetch(`${system.url}/admin/queues/api/queues/payments/pause`, { method: 'PUT', headers: { ...STAFF, origin: 'https://attacker.example' } });
    expect(put.status).toBe(403);
    expect(await jobCount()).toBe(jobsBefore);
    expect(await system.queues.payments.isPaused()).toBe(false);
  });

  it('lets the same origin, and a client that sends neither header (curl), act', async () => {
    const own = new URL(system.url).origin;
    const sameOrigin = await fetch(`${system.url}/admin/outbox/${eventId()}/replay`, { method: 'POST', headers: { ...STAFF, origin: own, 'sec-fetch-site': 'same-origin' } });
    expect(sameOrigin.status).toBe(404);
    const jobsBefore = await jobCount();
    const add = await fetch(`${system.url}/admin/queues/api/queues/payments/add`, {
      method: 'POST',
      headers: { ...STAFF, origin: own, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'audit-probe', data: { secret: 'not-logged' }, options: { delay: 3_600_000 } }),
    });
    expect(add.status).toBe(200);
    expect(await jobCount()).toBe(jobsBefore + 1);
    expect((await fetch(`${system.url}/admin/outbox/${eventId()}/replay`, { method: 'POST', headers: STAFF })).status).toBe(404);
  });
});

describe('audit lines', () => {
  it('logs who replayed or requeued which row, and every Bull Board change, from which address', async () => {
    const id = eventId();
    expect((await fetch(`${system.url}/admin/outbox/${id}/replay`, { method: 'POST', headers: { ...STAFF, 'x-forwarded-for': '198.51.100.7' } })).status).toBe(404);
    expect((await fetch(`${system.url}/admin/outbox/${id}/requeue`, { method: 'POST', headers: STAFF })).status).toBe(404);
    const pause = await fetch(`${system.url}/admin/queues/api/queues/deliveries/pause`, { method: 'PUT', headers: STAFF });
    expect(pause.status).toBeLessThan(300);
    expect((await fetch(`${system.url}/admin/queues/api/queues/deliveries/resume`, { method: 'PUT', headers: STAFF })).status).toBeLessThan(300);
    const audits = () => captured.records().filter((r) => r.audit === true);
    await waitFor('the audit lines', () => audits().some((r) => r.action === 'board.resume'));
    expect(audits()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user: 'admin', client: '198.51.100.7', action: 'outbox.replay', target: { outbox_id: id }, outcome: 'not_found' }),
        expect.objectContaining({ user: 'admin', client: '127.0.0.1', action: 'outbox.requeue', target: { outbox_id: id }, outcome: 'not_found' }),
        expect.objectContaining({ user: 'admin', action: 'board.pause', target: { queueName: 'deliveries' }, route: 'PUT /api/queues/:queueName/pause' }),
        expect.objectContaining({ user: 'admin', action: 'board.add', target: { queueName: 'payments' }, status: 200 }),
      ]),
    );
    expect(captured.lines.join('\n')).not.toContain('not-logged');
    // Reads are not audited.
    expect(audits().every((r) => !String(r.route ?? '').startsWith('GET'))).toBe(true);
  });
});

describe('/metrics', () => {
  it('answers only staff', async () => {
    const anonymous = await fetch(`${system.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await fetch(`${system.url}/metrics`, { headers: { authorization: 'Bearer something' } })).status).toBe(401);
    const staff = await fetch(`${system.url}/metrics`, { headers: STAFF });
    expect(staff.status).toBe(200);
    expect(await staff.text()).toContain('# TYPE');
  });
});

describe('failed staff logins', () => {
  it('are refused with 429 and Retry-After past the limit, across two API instances, right password included', async () => {
    const second = await startSystem(ctx, ['api'], ctx.config);
    try {
      const from = (address: string, authorization: string) => ({ authorization, 'x-forwarded-for': address });
      const guess = (url: string, n: number) => fetch(`${url}/admin/queues/api/queues`, { headers: from('203.0.113.9', basic('admin', `guess-${n}-wrong`)) });
      // Three wrong passwords (the limit), split over both instances: 401 each.
      expect((await guess(system.url, 1)).status).toBe(401);
      expect((await guess(second.url, 2)).status).toBe(401);
      expect((await guess(system.url, 3)).status).toBe(401);
      // The fourth, on the other instance: refused, and from now on the right password too.
      const refused = await guess(second.url, 4);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const right = await fetch(`${system.url}/admin/queues/api/queues`, { headers: from('203.0.113.9', STAFF.authorization) });
      expect(right.status).toBe(429);
      // Another client is not affected, nor is a request without credentials counted.
      for (let i = 0; i < 5; i++) expect((await fetch(`${second.url}/admin/queues`, { headers: { 'x-forwarded-for': '203.0.113.10' } })).status).toBe(401);
      expect((await fetch(`${second.url}/admin/queues/api/queues`, { headers: from('203.0.113.10', STAFF.authorization) })).status).toBe(200);
      // Each failure logged with the client, never the password.
      const failures = captured.records().filter((r) => r.msg === 'staff login failed' && r.client === '203.0.113.9');
      expect(failures.length).toBeGreaterThanOrEqual(2); // the first system's two; the second logs to ctx.log
      expect(captured.lines.join('\n')).not.toMatch(/guess-\d-wrong|test-admin-password/);
    } finally {
      await second.stop();
    }
  });
});

describe('a generated admin password', () => {
  it('goes to stderr only, never into the JSON log', async () => {
    const { ADMIN_PASSWORD: _, ...env } = ctx.env;
    const config = loadConfig({ ...env, PORT: '0' });
    const logs = capturedLogger();
    const stderr: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    const generated = createSystem(config, logs.log, ['api']);
    try {
      await generated.start();
    } finally {
      spy.mockRestore();
    }
    try {
      expect(config.ADMIN_PASSWORD).toBeUndefined();
      expect(generated.adminPassword.length).toBeGreaterThanOrEqual(16);
      expect(stderr.join('')).toContain(generated.adminPassword);
      expect(logs.lines.join('\n')).not.toContain(generated.adminPassword);
      expect(logs.records().some((r) => String(r.msg).includes('generated password on stderr'))).toBe(true);
      const url = `http://127.0.0.1:${generated.port()}`;
      expect((await fetch(`${url}/metrics`, { headers: { authorization: basic('admin', generated.adminPassword) } })).status).toBe(200);
    } finally {
      await generated.stop();
    }
  });
});
