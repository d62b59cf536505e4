import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { clientAddress, clientKey, type Counter, type CustomerOf, normalizeAddress, rateLimit } from './rate-limit.ts';

describe('clientAddress', () => {
  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress('10.0.0.7', '1.2.3.4', 0)).toBe('10.0.0.7');
    expect(clientAddress('10.0.0.7', undefined, 1)).toBe('10.0.0.7');
  });

  it('is the entry as many from the right as there are trusted proxies', () => {
    // The client forged the leftmost entry; the trusted proxy appended the real peer.
    expect(clientAddress('10.0.0.2', 'forged, 203.0.113.9', 1)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.2', '198.51.100.1, 203.0.113.9, 10.0.0.1', 2)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.2', ' 203.0.113.9 ', 1)).toBe('203.0.113.9');
  });

  it('falls back to the socket peer when the header has fewer entries than proxies, or garbage where the address should be', () => {
    expect(clientAddress('10.0.0.2', '203.0.113.9', 2)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', '203.0.113.9, not-an-ip', 1)).toBe('10.0.0.2');
    expect(clientAddress(undefined, undefined, 0)).toBe('unknown');
  });
});

describe('normalizeAddress', () => {
  it('keeps IPv4 and unwraps IPv4-mapped IPv6', () => {
    expect(normalizeAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });

  it('keys IPv6 by its /64, however it is written', () => {
    const key = '2001:0db8:0000:0001::/64';
    expect(normalizeAddress('2001:db8:0:1::1')).toBe(key);
    expect(normalizeAddress('2001:DB8:0:1:ffff:ffff:ffff:ffff')).toBe(key);
    expect(normalizeAddress('2001:db8::1:0:0:0:5')).toBe(key);
    expect(normalizeAddress('::1')).toBe('0000:0000:0000:0000::/64');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80:0000:0000:0000::/64');
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', 'unknown', '1.2.3', '999.1.1.1', '::g', 'a, b']) expect(normalizeAddress(bad)).toBeUndefined();
  });
});

describe('clientKey', () => {
  const keyOf = async (headers: Record<string, string>, customerOf?: CustomerOf) => {
    const app = new Hono().get('/', (c) => c.text(clientKey(c, 1, customerOf)));
    return (await app.request('/', { headers })).text();
  };

  it('is the client address without an authenticated customer, even when a bearer token is sent', async () => {
    expect(await keyOf({ 'x-forwarded-for': '203.0.113.9', authorization: 'Bearer anything' })).toBe('ip:203.0.113.9');
  });

  it('is a hash of the customer once one is authenticated, never the token itself', async () => {
    const key = await keyOf({ 'x-forwarded-for': '203.0.113.9' }, () => 'customer-secret-token');
    expect(key).toMatch(/^token:[\w-]{22}$/);
    expect(key).not.toContain('secret');
    expect(await keyOf({}, () => 'customer-secret-token')).toBe(key);
  });
});

describe('rateLimit', () => {
  // A counter that allows `limit` requests, the behaviour the Redis-backed one has in its window.
  const counter = (limit: number): Counter => {
    let used = 0;
    return { limit, windowS: 60, consume: async () => ({ allowed: ++used <= limit, remaining: Math.max(0, limit - used), resetMs: 42_500 }) };
  };

  it('answers with the RateLimit headers, then 429 problem+json with Retry-After past the limit', async () => {
    const app = new Hono().post(
      '/orders',
      rateLimit(counter(2), () => 'ip:1'),
      (c) => c.json({ ok: true }, 201),
    );
    const first = await app.request('/orders', { method: 'POST' });
    expect(first.status).toBe(201);
    expect(Object.fromEntries([...first.headers].filter(([k]) => k.startsWith('ratelimit')))).toEqual({
      'ratelimit-limit': '2',
      'ratelimit-remaining': '1',
      'ratelimit-reset': '43',
      'ratelimit-policy': '2;w=60',
    });
    expect((await app.request('/orders', { method: 'POST' })).status).toBe(201);
    const refused = await app.request('/orders', { method: 'POST' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe('43');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(await refused.json()).toMatchObject({ status: 429, title: 'Too many requests' });
  });
});
