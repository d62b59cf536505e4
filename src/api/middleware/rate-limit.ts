// Rate limits per client: order creation (POST /orders and /pizza share one count), the list
// (GET /orders) and sign-up with log-in (POST /users and /users/login share one count), each so
// many requests a minute. Each order leaves three jobs in Redis for a day, so order spam grows
// Redis until it refuses writes; one client's list pages can starve the rest; every sign-up and
// log-in costs a memory-hard password hash (tens of milliseconds of CPU and 32 MiB), and log-ins
// are where passwords are guessed.
// The counts are in Redis (rate-limiter-flexible's atomic Lua counter), so every API instance
// shares them; their keys carry QUEUE_PREFIX's {hash tag}, one Cluster slot with our queues.
//
// Redis unreachable (down, or slower than a second): the API still takes orders — they wait in the
// outbox — so the limit matters most then. It does not fail open: an in-process counter with the
// same limit stands in (each instance counts alone meanwhile, so N instances let N times the limit
// through), and a warning is logged once a minute while it does. Never a 500 from the limiter.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import type { RedisConnection } from '../../redis/connection.ts';
import { problem } from '../problem.ts';

const WINDOW_S = 60;
// A Redis that accepts commands but does not answer must not hold every order for the 5 s command timeout.
const REDIS_TIMEOUT_MS = 1000;
const FALLBACK_WARNING_INTERVAL_MS = 60_000;

export interface RateLimitSettings {
  QUEUE_PREFIX: string;
  ORDER_RATE_LIMIT_PER_MINUTE: number;
  LIST_RATE_LIMIT_PER_MINUTE: number;
  AUTH_RATE_LIMIT_PER_MINUTE: number;
  TRUSTED_PROXY_HOPS: number;
}

// The middleware of each limited route; a limit set to 0 is left out.
export interface RateLimits {
  createOrder?: MiddlewareHandler | undefined;
  listOrders?: MiddlewareHandler | undefined;
  signIn?: MiddlewareHandler | undefined;
}

// The customer a request is authenticated as (a verified token), once the API has customers.
// Only a verified identity may pick the bucket: an unverified bearer would let a client make a
// fresh bucket per request. Without one the client address is the key.
export type CustomerOf = (c: Context) => string | undefined;

export interface Decision {
  allowed: boolean;
  remaining: number;
  resetMs: number;
}

export interface Counter {
  limit: number;
  windowS: number;
  consume(key: string): Promise<Decision>;
}

export function createRateLimits(redis: RedisConnection, settings: RateLimitSettings, log: Logger, customerOf?: CustomerOf): RateLimits {
  const keyOf = (c: Context) => clientKey(c, settings.TRUSTED_PROXY_HOPS, customerOf);
  const limit = (name: string, perMinute: number) =>
    perMinute > 0 ? rateLimit(redisCounter(redis, `${settings.QUEUE_PREFIX}:rate-limit:${name}`, perMinute, log), keyOf) : undefined;
  return {
    createOrder: limit('orders', settings.ORDER_RATE_LIMIT_PER_MINUTE),
    listOrders: limit('list', settings.LIST_RATE_LIMIT_PER_MINUTE),
    signIn: limit('auth', settings.AUTH_RATE_LIMIT_PER_MINUTE),
  };
}

// A fixed one-minute window per key in Redis, with an in-process window standing in while Redis fails.
export function redisCounter(redis: RedisConnection, keyPrefix: string, limit: number, log: Logger): Counter {
  const shared = new RLWrapperTimeouts({
    limiter: new RateLimiterRedis({
      storeClient: redis,
      keyPrefix,
      points: limit,
      duration: WINDOW_S,
      // Reconnecting: straight to the stand-in instead of an error per request.
      rejectIfRedisNotReady: true,
      // A client over its limit is refused from memory for the rest of its window, so a flood
      // from one client costs Redis one command per instance, not one per request.
      inMemoryBlockOnConsumed: limit + 1,
    }),
    timeoutMs: REDIS_TIMEOUT_MS,
  });
  const standIn = new RateLimiterMemory({ keyPrefix, points: limit, duration: WINDOW_S });
  let failures = 0;
  let lastWarning = 0;
  const warn = (err: Error) => {
    failures++;
    if (Date.now() - lastWarning < FALLBACK_WARNING_INTERVAL_MS) return;
    log.warn({ err: err.message, keyPrefix, failures }, 'rate limit: Redis unavailable, counting in this process only');
    lastWarning = Date.now();
    failures = 0;
  };
  return {
    limit,
    windowS: WINDOW_S,
    async consume(key) {
      try {
        return decision(await shared.consume(key), true);
      } catch (refusedOrError) {
        if (refusedOrError instanceof RateLimiterRes) return decision(refusedOrError, false);
        warn(refusedOrError as Error);
      }
      return standIn.consume(key).then(
        (res) => decision(res, true),
        (res: RateLimiterRes) => decision(res, false),
      );
    },
  };
}

function decision(res: RateLimiterRes, allowed: boolean): Decision {
  return { allowed, remaining: res.remainingPoints, resetMs: res.msBeforeNext };
}

// Answers 429 past the limit; every answer of the route carries the IETF draft RateLimit headers.
export function rateLimit(counter: Counter, keyOf: (c: Context) => string): MiddlewareHandler {
  const policy = `${counter.limit};w=${counter.windowS}`;
  return async (c, next) => {
    const { allowed, remaining, resetMs } = await counter.consume(keyOf(c));
    const resetS = Math.max(1, Math.ceil(resetMs / 1000));
    c.header('RateLimit-Limit', String(counter.limit));
    c.header('RateLimit-Remaining', String(remaining));
    c.header('RateLimit-Reset', String(resetS));
    c.header('RateLimit-Policy', policy);
    if (allowed) return next();
    c.header('Retry-After', String(resetS));
    return problem(c, 429, 'Too many requests', `At most ${counter.limit} of these requests a minute per client; retry in ${resetS} s.`);
  };
}

// `token:<hash>` for an authenticated customer, else `ip:<address>`.
export function clientKey(c: Context, trustedProxyHops: number, customerOf?: CustomerOf): string {
  const customer = customerOf?.(c);
  if (customer) return `token:${createHash('sha256').update(customer).digest('base64url').slice(0, 22)}`;
  let socketAddress: string | undefined;
  try {
    socketAddress = getConnInfo(c).remote.address;
  } catch {
    // Not served by @hono/node-server (app.request in a unit test): no socket.
  }
  return `ip:${clientAddress(socketAddress, c.req.header('x-forwarded-for'), trustedProxyHops)}`;
}

// The client's address: the socket's peer, or behind `trustedProxyHops` proxies that each append
// the address they were connected from to X-Forwarded-For, the entry that many from the right
// (entries further left are whatever the client sent). A header with fewer entries did not come
// through every proxy: the socket's peer then, never a client-chosen entry.
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trustedProxyHops: number): string {
  const socket = normalizeAddress(socketAddress ?? '') ?? 'unknown';
  if (trustedProxyHops === 0 || !forwardedFor) return socket;
  const entries = forwardedFor.split(',').map((e) => e.trim());
  if (entries.length < trustedProxyHops) return socket;
  return normalizeAddress(entries[entries.length - trustedProxyHops]!) ?? socket;
}

// One key per IPv4 address and per IPv6 /64 (the block one subscriber gets); IPv4-mapped IPv6 as
// IPv4. undefined for what is not an IP address.
export function normalizeAddress(raw: string): string | undefined {
  const address = raw.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return normalizeAddress(mapped[1]!);
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  return `${expandIpv6(address).slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] {
  // The URL parser writes IPv6 canonically (hex, an embedded IPv4 as two groups, `::` once).
  const canonical = new URL(`http://[${address.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
  const [head = '', tail] = canonical.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => g.padStart(4, '0'));
}
