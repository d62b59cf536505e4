// Readiness and the admin routes with a dependency down, through the real server: the answer says
// which dependency (postgres, redis) and nothing of the driver's error; the detail and what to
// check go to the log at warn. Redis is the test's own (stopped and started here); Postgres is a
// URL pointing to a closed port, and one naming a database that does not exist.
import { randomBytes, randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.ts';
import { createSystem, type System } from '../src/system.ts';
import { startPrivateRedis, type PrivateRedis } from './faults/support/private-redis.ts';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from './support/context.ts';
import { freePort } from './support/processes.ts';
import { PIZZA, postJson } from './support/system.ts';

let redis: PrivateRedis;
let ctx: TestContext;
const admin = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}` };
// What the driver says and must stay in the log: addresses, ports, ioredis's wording.
const INTERNALS = /ECONNREFUSED|127\.0\.0\.1|:\d{4,5}|Stream isn't writeable|enableOfflineQueue|Connection is closed|does not exist|3D000|outbox_test/;

beforeAll(async () => {
  redis = await startPrivateRedis({ persistent: false });
  ctx = await createTestContext({}, { redisUrl: redis.url });
  ctx.redis.on('error', () => {}); // the context's own connection sees the outage too
});

// Every test starts with Redis up, whatever the one before it left.
beforeEach(async () => {
  if (!redis.running()) await redis.start();
});

afterAll(async () => {
  if (redis && !redis.running()) await redis.start().catch(() => {}); // so cleanup can remove the keys
  await ctx?.cleanup();
  await redis?.stop();
});

type LogLine = { level: number; msg: string; dependency?: string; check?: string; error?: { code?: string; message: string } };

// The API on `config`, logging into an array the test reads.
async function startApi(config: Config): Promise<{ system: System; url: string; lines: LogLine[]; stop(): Promise<void> }> {
  const lines: LogLine[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const system = createSystem(config, log, ['api']);
  await system.start();
  return { system, url: `http://127.0.0.1:${system.port()}`, lines, stop: () => system.stop() };
}

async function ready(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/health/ready`);
  return { status: res.status, text: await res.text() };
}

const warnings = (lines: LogLine[], dependency: string) => lines.filter((l) => l.level === 40 && l.dependency === dependency);

describe('Redis down', () => {
  it('readiness names redis only, the admin routes answer a 503 problem naming Redis, and the log says what to check', async () => {
    const api = await startApi(ctx.config);
    try {
      expect(await ready(api.url)).toEqual({ status: 200, text: JSON.stringify({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } }) });
      // The documented answer: each check is one of two words.
      const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as { components: { schemas: Record<string, unknown> } };
      expect(doc.components.schemas.CheckState).toEqual({ type: 'string', enum: ['ok', 'unavailable'] });
      // A published row, so replaying it has to ask Redis for its jobs.
      const order = (await (await postJson(`${api.url}/pizza`, PIZZA)).json()) as { id: string };
      const [row] = await ctx.sql<{ id: string }[]>`UPDATE outbox SET published_at = now() WHERE aggregate_id = ${order.id} RETURNING id`;

      await redis.kill();
      const down = await waitFor('readiness to see Redis down', async () => {
        const answer = await ready(api.url);
        return answer.status === 503 && answer;
      });
      expect(JSON.parse(down.text)).toEqual({ status: 'unavailable', checks: { postgres: 'ok', redis: 'unavailable' } });
      const [warning] = warnings(api.lines, 'redis');
      expect(warning?.msg).toContain('REDIS_URL');
      expect(warning?.error?.message).toBeTruthy(); // the driver's detail is in the log

      for (const [method, path] of [
        ['POST', `/admin/outbox/${row!.id}/replay`],
        ['GET', '/admin/queues/api/queues'],
      ] as const) {
        const res = await fetch(`${api.url}${path}`, { method, headers: admin });
        const text = await res.text();
        expect(res.status, `${method} ${path}: ${text}`).toBe(503);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(res.headers.get('retry-after')).toBe('1');
        expect(text).toContain('Redis');
        expect(text).not.toMatch(INTERNALS);
      }

      await redis.start();
      await waitFor('readiness to see Redis back', async () => (await ready(api.url)).status === 200);
      expect(api.lines.some((l) => l.level === 30 && l.msg === 'readiness: redis answers again')).toBe(true);
    } finally {
      await api.stop();
    }
  }, 60_000);
});

describe('Postgres down', () => {
  // The API without Postgres at all: the signing key is given, so nothing reads it at start.
  const withDatabaseUrl = (url: string) => loadConfig({ ...ctx.env, DATABASE_URL: url, OUTBOX_SIGNING_KEY: randomBytes(32).toString('base64url') });

  it('readiness names postgres only when its port is closed, and the log names DATABASE_URL', async () => {
    const api = await startApi(withDatabaseUrl(`postgres://postgres@127.0.0.1:${await freePort()}/outbox`));
    try {
      const answer = await ready(api.url);
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text)).toEqual({ status: 'unavailable', checks: { postgres: 'unavailable', redis: 'ok' } });
      expect(answer.text).not.toMatch(INTERNALS);
      const [warning] = warnings(api.lines, 'postgres');
      expect(warning?.msg).toContain('DATABASE_URL');
      expect(warning?.error?.code).toBe('ECONNREFUSED');

      // The order path says the same: a 503 problem, no driver text.
      const order = await postJson(`${api.url}/pizza`, PIZZA);
      expect(order.status).toBe(503);
      expect(await order.text()).not.toMatch(INTERNALS);
    } finally {
      await api.stop();
    }
  }, 60_000);

  it('tells the operator that npm run migrate creates a missing database (3D000)', async () => {
    const url = new URL(ctx.env.DATABASE_URL!);
    url.pathname = `/outbox_test_missing_${randomUUID().slice(0, 8)}`;
    const api = await startApi(withDatabaseUrl(url.toString()));
    try {
      const answer = await ready(api.url);
      expect(JSON.parse(answer.text)).toEqual({ status: 'unavailable', checks: { postgres: 'unavailable', redis: 'ok' } });
      expect(answer.text).not.toMatch(INTERNALS);
      const [warning] = warnings(api.lines, 'postgres');
      expect(warning?.error?.code).toBe('3D000');
      expect(warning?.msg).toContain('npm run migrate');
    } finally {
      await api.stop();
    }
  }, 60_000);
});
