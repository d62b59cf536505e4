import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '../problem.ts';
import { problemErrorHandler } from './error-handler.ts';

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

  it('maps a timeout to 503 and an unreachable Postgres to 503 with Retry-After', async () => {
    expect((await app.request('/timeout')).status).toBe(503);
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
});
