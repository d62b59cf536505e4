import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { pino } from 'pino';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { MAX_LOGGED_MESSAGE } from '../error-summary.ts';
import { ProblemError } from '../problem.ts';
import { problemErrorHandler } from './error-handler.ts';

// A Postgres error as postgres.js hands it over for `INSERT … ($1::jsonb)` with a NUL in the value:
// `where` quotes the parameter, and `query`/`parameters` are attached (enumerable with debug: true).
function jsonbNulError(): Error {
  const err = new postgres.PostgresError({
    message: 'unsupported Unicode escape sequence',
    code: '22P05',
    detail: '\\u0000 cannot be converted to text.',
    where: 'JSON data, line 1: [{"flavor":"secret-flavor\\u0000...',
    constraint_name: 'orders_items_check',
    schema_name: 'public',
    table_name: 'orders',
    column_name: 'items',
    severity: 'ERROR',
  } as unknown as string);
  Object.defineProperties(err, {
    query: { value: 'INSERT INTO orders (customer_name, items) VALUES ($1, $2)', enumerable: true },
    parameters: { value: ['secret-customer', '[{"flavor":"secret-flavor\u0000"}]'], enumerable: true },
  });
  return err;
}

// The handler's log lines, parsed, at the given level.
function capturingApp(level: 'info' | 'debug') {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const app = new Hono()
    .get('/jsonb', () => {
      throw jsonbNulError();
    })
    .get('/long', () => {
      throw new Error('x'.repeat(5000));
    })
    .get('/redis', () => {
      throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    })
    .onError(problemErrorHandler(log));
  return { app, lines };
}

const app = new Hono()
  .get('/problem', () => {
    throw new ProblemError(409, 'Request in progress', 'Retry in a moment.', { 'retry-after': '1' });
  })
  .get('/timeout', () => {
    throw new HTTPException(503, { message: 'took too long' });
  })
  .get('/down', () => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  })
  .get('/bug', () => {
    throw new Error('SELECT secret FROM somewhere');
  })
  .onError(problemErrorHandler(pino({ level: 'silent' })));

describe('problemErrorHandler', () => {
  it("answers a route's ProblemError with its status, title and headers", async () => {
    const res = await app.request('/problem');
    expect(res.status).toBe(409);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ title: 'Request in progress', status: 409, detail: 'Retry in a moment.' });
  });

  it('maps a timeout and an unreachable Postgres to 503 with Retry-After', async () => {
    const timedOut = await app.request('/timeout');
    expect(timedOut.status).toBe(503);
    expect(timedOut.headers.get('retry-after')).toBe('1');
    const down = await app.request('/down');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(await down.text()).not.toContain('ECONNREFUSED');
  });

  it('hides everything of an unexpected error behind a 500', async () => {
    const res = await app.request('/bug');
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('secret');
  });

  it('logs a short, redacted summary of an unexpected error: code, constraint, table, column, message', async () => {
    const { app: logged, lines } = capturingApp('info');
    expect((await logged.request('/jsonb')).status).toBe(500);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 50,
      msg: 'unhandled error',
      path: '/jsonb',
      error: { type: 'PostgresError', code: '22P05', constraint: 'orders_items_check', table: 'orders', column: 'items', message: 'unsupported Unicode escape sequence' },
    });
    const line = JSON.stringify(lines[0]);
    for (const leak of ['secret', 'INSERT', 'where', 'parameters', 'query', 'stack', 'detail']) expect(line).not.toContain(leak);
  });

  it('truncates long messages and adds the stack only at debug level', async () => {
    const { app: logged, lines } = capturingApp('debug');
    await logged.request('/long');
    await logged.request('/jsonb');
    const [long, jsonb] = lines.filter((l) => l.msg === 'unhandled error') as Array<{ error: { message: string; stack?: string } }>;
    expect(long!.error.message).toHaveLength(MAX_LOGGED_MESSAGE + 1);
    expect(long!.error.stack).toContain('error-handler.test.ts');
    expect(JSON.stringify(jsonb)).not.toContain('secret');
  });

  it('answers Redis unavailable with a 503 naming Redis, without the driver message', async () => {
    const { app: logged, lines } = capturingApp('info');
    const res = await logged.request('/redis');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const text = await res.text();
    expect(text).toContain('Redis');
    expect(text).not.toMatch(/Stream|enableOfflineQueue/);
    expect(lines[0]).toMatchObject({ level: 40, msg: expect.stringContaining('REDIS_URL') });
  });
});
