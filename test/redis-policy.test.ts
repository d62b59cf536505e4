// Guarantee 8: a Redis that may evict keys can lose jobs, so processes refuse to start on one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger } from '../src/logger.ts';
import { checkEvictionPolicy } from '../src/redis/connection.ts';
import { waitFor } from './support/context.ts';
import { freePort, startCommand, type Child } from './support/processes.ts';

let server: Child;
let redis: Redis;

beforeAll(async () => {
  const port = await freePort();
  server = startCommand('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru']);
  redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50 });
  redis.on('error', () => {}); // refused until the server is up
  await waitFor('the test Redis to answer', async () => (await redis.ping()) === 'PONG');
});

afterAll(async () => {
  redis?.disconnect();
  server?.kill();
  await server?.exited;
});

describe('checkEvictionPolicy', () => {
  const log = createLogger('silent', 'test');

  it('refuses a Redis with an eviction policy, saying what to change', async () => {
    await expect(checkEvictionPolicy(redis, log, true)).rejects.toThrow(/allkeys-lru.*--maxmemory-policy noeviction/);
  });

  it('only logs when the check is turned off', async () => {
    await expect(checkEvictionPolicy(redis, log, false)).resolves.toBeUndefined();
  });

  it('accepts noeviction', async () => {
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await expect(checkEvictionPolicy(redis, log, true)).resolves.toBeUndefined();
  });
});
