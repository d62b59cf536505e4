import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { jsonOnly } from './json-only.ts';

const app = new Hono().use('*', jsonOnly()).all('*', (c) => c.text('ok'));
const send = (init: RequestInit) => app.request('/x', { method: 'POST', ...init });

describe('jsonOnly', () => {
  it('refuses a body that is not JSON with a problem 415', async () => {
    const res = await send({ body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '3' } });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });

  it('lets JSON (with parameters), bodiless POSTs and GETs through', async () => {
    expect((await send({ body: '{}', headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': '2' } })).status).toBe(200);
    expect((await send({})).status).toBe(200);
    expect((await app.request('/x')).status).toBe(200);
  });
});
