import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { limitBody } from './body-limit.ts';

const app = new Hono().use('*', limitBody(10)).post('*', async (c) => c.text(await c.req.text()));

describe('limitBody', () => {
  it('refuses a declared length over the limit without reading the body, and closes the connection', async () => {
    const res = await app.request('/x', { method: 'POST', body: 'x'.repeat(11), headers: { 'content-length': '11' } });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
  });

  it('counts a chunked body as it streams', async () => {
    const body = new ReadableStream({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode('x'.repeat(8)));
        ctl.enqueue(new TextEncoder().encode('x'.repeat(8)));
        ctl.close();
      },
    });
    const res = await app.request('/x', { method: 'POST', body, headers: { 'transfer-encoding': 'chunked' }, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
  });

  it('passes a body within the limit', async () => {
    const res = await app.request('/x', { method: 'POST', body: 'hello', headers: { 'content-length': '5' } });
    expect(await res.text()).toBe('hello');
  });
});
