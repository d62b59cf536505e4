import { describe, expect, it } from 'vitest';
import { connectionsCheckingIntervalMs, httpServerOptions, openFilesLimit } from './http-server.ts';

describe('httpServerOptions', () => {
  it('checks for expired connections often enough that none outlives its timeout by more than a second', () => {
    expect(connectionsCheckingIntervalMs(10_000)).toBe(1000);
    expect(connectionsCheckingIntervalMs(2000)).toBe(500);
    expect(connectionsCheckingIntervalMs(100)).toBe(100);
    const options = httpServerOptions({
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 30_000,
      HTTP_KEEPALIVE_TIMEOUT_MS: 5000,
      HTTP_MAX_CONNECTIONS: 4096,
      HTTP_MAX_HEADER_BYTES: 16_384,
      HTTP_MAX_HEADERS_COUNT: 100,
    });
    expect(options).toEqual({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5000, connectionsCheckingInterval: 1000, maxHeaderSize: 16_384 });
  });
});

describe('openFilesLimit', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(openFilesLimit(text)).toBe(1024);
    expect(openFilesLimit('Max open files            unlimited            unlimited            files\n')).toBeUndefined();
  });
});
