// ioredis connections for each use. BullMQ's Workers need blocking connections that retry forever
// (`maxRetriesPerRequest: null`); the relay and the API need commands that fail fast while Redis is
// away, so they can back off (relay) or keep answering (API) instead of waiting forever.
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { isTlsFailure, REDIS_TLS_CHECK, redisTlsOptions, TlsRefusedError, tlsRefusedMessage, type RedisTlsFiles } from '../tls.ts';

export type RedisConnection = Redis | Cluster;

// Where Redis is: one server (REDIS_URL), or a cluster from its seed nodes (REDIS_CLUSTER_NODES wins);
// with a rediss:// REDIS_URL, the CA and client certificate files of its TLS.
export interface RedisTarget extends RedisTlsFiles {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: ClusterNode[] | undefined;
}

const reconnect = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

export function redisOptionsFromUrl(url: string, tls: RedisTlsFiles = {}): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: redisTlsOptions(tls) } : {}),
  };
}

// For Queue.add/addBulk and reads: no offline queue, a command timeout, one retry.
export function createFailFastRedis(url: string, log: Logger, name: string, tls: RedisTlsFiles = {}): Redis {
  const redis = new Redis({
    ...redisOptionsFromUrl(url, tls),
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
  if (!target.REDIS_CLUSTER_NODES) return createFailFastRedis(target.REDIS_URL, log, name, target);
  // `auth` carries the TLS options too: every node of the cluster is reached over TLS.
  const { host: _host, port: _port, db: _db, ...auth } = redisOptionsFromUrl(target.REDIS_URL, target);
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
  if (!target.REDIS_CLUSTER_NODES) return workerRedisOptions(target.REDIS_URL, target);
  const { host: _host, port: _port, db: _db, ...auth } = redisOptionsFromUrl(target.REDIS_URL, target);
  return new Cluster(target.REDIS_CLUSTER_NODES, { clusterRetryStrategy: reconnect, redisOptions: { ...auth, maxRetriesPerRequest: null } });
}

// For BullMQ Workers (which make their own blocking connection from these options).
export function workerRedisOptions(url: string, tls: RedisTlsFiles = {}): RedisOptions & { retryStrategy: (attempt: number) => number } {
  return { ...redisOptionsFromUrl(url, tls), maxRetriesPerRequest: null, retryStrategy: reconnect };
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

// Rejects with a TlsRefusedError at once when Redis's certificate is refused (or the handshake
// fails): unlike Redis being down, that does not mend itself, so the caller stops instead of waiting.
export function waitUntilReady(redis: RedisConnection, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms: check REDIS_URL and that Redis is running`));
    }, timeoutMs);
    const onReady = () => {
      done();
      resolve();
    };
    const onError = (err: Error) => {
      if (!isTlsFailure(err)) return;
      done();
      reject(new TlsRefusedError(tlsRefusedMessage('Redis', redisWhere(redis), err, REDIS_TLS_CHECK), { cause: err }));
    };
    redis.once('ready', onReady);
    redis.on('error', onError);
  });
}

const redisWhere = (redis: RedisConnection) => (redis instanceof Cluster ? 'REDIS_CLUSTER_NODES' : `REDIS_URL (${redis.options.host}:${redis.options.port})`);

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
