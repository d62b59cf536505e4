// ioredis connections for each use. BullMQ's Workers need blocking connections that retry forever
// (`maxRetriesPerRequest: null`); the relay and the API need commands that fail fast while Redis is
// away, so they can back off (relay) or keep answering (API) instead of waiting forever.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export type RedisConnection = Redis;

const reconnect = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

// For Queue.add/addBulk and reads: no offline queue, a command timeout, one retry.
export function createFailFastRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis({
    ...redisOptionsFromUrl(url),
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5000,
    connectTimeout: 2000,
    retryStrategy: reconnect,
  });
  watchConnection(redis, log, name);
  return redis;
}

// For BullMQ Workers (which make their own blocking connection from these options).
export function workerRedisOptions(url: string): RedisOptions & { retryStrategy: (attempt: number) => number } {
  return { ...redisOptionsFromUrl(url), maxRetriesPerRequest: null, retryStrategy: reconnect };
}

function watchConnection(redis: Redis, log: Logger, name: string): void {
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.warn({ connection: name, err: err.message }, 'redis unavailable; reconnecting');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info({ connection: name }, 'redis reconnected');
    down = false;
  });
}

export function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis did not answer within ${timeoutMs} ms: check REDIS_URL and that Redis is running`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

// Guarantee 8: with any eviction policy, Redis may drop queued jobs under memory pressure.
export async function checkEvictionPolicy(redis: Redis, log: Logger, required: boolean): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch {
    log.warn('could not read maxmemory-policy (CONFIG is disabled?); make sure Redis runs with maxmemory-policy noeviction');
    return;
  }
  if (policy === 'noeviction') return;
  const message = `Redis maxmemory-policy is "${policy}": jobs can be evicted and lost. Run Redis with --maxmemory-policy noeviction (or set REDIS_REQUIRE_NOEVICTION=false to start anyway)`;
  if (required) throw new Error(message);
  log.error(message);
}
