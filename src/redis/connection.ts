// ioredis connections for each use. BullMQ's Workers need blocking connections that retry forever
// (`maxRetriesPerRequest: null`); the relay and the API need commands that fail fast while Redis is
// away, so they can back off (relay) or keep answering (API) instead of waiting forever.
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export type RedisConnection = Redis | Cluster;

// Where Redis is: one server (REDIS_URL), or a cluster from its seed nodes (REDIS_CLUSTER_NODES wins).
export interface RedisTarget {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: ClusterNode[] | undefined;
}

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

// The fail-fast command connection for a target: a Cluster when seed nodes are given. Every BullMQ
// key of ours carries the {hash tag} of QUEUE_PREFIX, so each script touches one slot.
export function createCommandConnection(target: RedisTarget, log: Logger, name: string): RedisConnection {
  if (!target.REDIS_CLUSTER_NODES) return createFailFastRedis(target.REDIS_URL, log, name);
  const { host: _host, port: _port, db: _db, ...auth } = redisOptionsFromUrl(target.REDIS_URL);
  const cluster = new Cluster(target.REDIS_CLUSTER_NODES, {
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnect,
    redisOptions: { ...auth, connectionName: name, maxRetriesPerRequest: 1, commandTimeout: 5000, connectTimeout: 2000 },
  });
  watchConnection(cluster, log, name);
  return cluster;
}

// The connection a BullMQ Worker is given: options for one server (the Worker opens its own
// blocking connection from them), or a Cluster that BullMQ duplicates.
export function createWorkerConnection(target: RedisTarget): ReturnType<typeof workerRedisOptions> | Cluster {
  if (!target.REDIS_CLUSTER_NODES) return workerRedisOptions(target.REDIS_URL);
  const { host: _host, port: _port, db: _db, ...auth } = redisOptionsFromUrl(target.REDIS_URL);
  return new Cluster(target.REDIS_CLUSTER_NODES, { clusterRetryStrategy: reconnect, redisOptions: { ...auth, maxRetriesPerRequest: null } });
}

// For BullMQ Workers (which make their own blocking connection from these options).
export function workerRedisOptions(url: string): RedisOptions & { retryStrategy: (attempt: number) => number } {
  return { ...redisOptionsFromUrl(url), maxRetriesPerRequest: null, retryStrategy: reconnect };
}

function watchConnection(redis: RedisConnection, log: Logger, name: string): void {
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

export function waitUntilReady(redis: RedisConnection, timeoutMs: number): Promise<void> {
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
// On a cluster every master is asked.
export async function checkEvictionPolicy(redis: RedisConnection, log: Logger, required: boolean): Promise<void> {
  const servers: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const server of servers) {
    let policy: string | undefined;
    try {
      const reply = (await server.config('GET', 'maxmemory-policy')) as string[];
      policy = reply[1];
    } catch {
      log.warn('could not read maxmemory-policy (CONFIG is disabled?); make sure Redis runs with maxmemory-policy noeviction');
      return;
    }
    if (policy === 'noeviction') continue;
    const where = redis instanceof Cluster ? ` on ${server.options.host}:${server.options.port}` : '';
    const message = `Redis maxmemory-policy is "${policy}"${where}: jobs can be evicted and lost. Run Redis with --maxmemory-policy noeviction (or set REDIS_REQUIRE_NOEVICTION=false to start anyway)`;
    if (required) throw new Error(message);
    log.error(message);
  }
}
