// Staff authentication for /admin/** and the API's /metrics: HTTP Basic against ADMIN_USER /
// ADMIN_PASSWORD, with failed logins throttled per client address. Basic auth sends the password
// with every request, so without a throttle anyone who can reach the port may guess at full speed.
//
// The throttle counts wrong passwords per client address (the same address the order rate limits
// use, TRUSTED_PROXY_HOPS included) in Redis, so every API instance shares the count; its keys carry
// QUEUE_PREFIX's {hash tag}. Past ADMIN_LOGIN_MAX_FAILURES wrong passwords (each a 401) within
// ADMIN_LOGIN_WINDOW_S, from the next wrong one on, the address gets 429 with Retry-After for the
// rest of the window, right password or not: accepting the right one meanwhile would tell a
// guesser when it has found it. A request without credentials (a browser's
// first request, before it shows its login dialog) is a 401 challenge and costs nothing. A right
// password costs one counter read and no delay. Redis away or slow: an in-process count stands in.
//
// Each failure is logged (client address, whether the user name was right; never the password,
// nor a wrong user name, which is often a password typed in the wrong field).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { auth } from 'hono/utils/basic-auth';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible';
import type { RedisConnection } from '../../redis/connection.ts';
import { problem } from '../problem.ts';
import { clientKey } from './rate-limit.ts';

export const STAFF_REALM = 'pizza-outbox admin';
// A Redis that accepts commands but does not answer must not hold an operator for the 5 s command timeout.
const REDIS_TIMEOUT_MS = 1000;

declare module 'hono' {
  interface ContextVariableMap {
    // Set once a request has passed staff auth: who, and from which client address (for audit lines).
    staffUser: string;
    staffClient: string;
  }
}

export interface StaffAuthSettings {
  ADMIN_USER: string;
  QUEUE_PREFIX: string;
  TRUSTED_PROXY_HOPS: number;
  ADMIN_LOGIN_MAX_FAILURES: number;
  ADMIN_LOGIN_WINDOW_S: number;
}

// Failed logins per key: how long the key is still refused (0: not refused), and one more failure.
export interface LoginThrottle {
  maxFailures: number;
  refusedForMs(key: string): Promise<number>;
  recordFailure(key: string): Promise<{ failures: number; refusedForMs: number }>;
}

export function staffAuth(opts: { password: string; settings: StaffAuthSettings; throttle: LoginThrottle; log: Logger }): MiddlewareHandler {
  const { settings, throttle, log } = opts;
  const expectedUser = digest(settings.ADMIN_USER);
  const expectedPassword = digest(opts.password);
  return async (c, next) => {
    const key = clientKey(c, settings.TRUSTED_PROXY_HOPS);
    const client = key.replace(/^ip:/, '');
    const refused = await throttle.refusedForMs(key);
    if (refused > 0) return tooManyFailures(c, refused);
    const given = auth(c.req.raw);
    if (!given) return challenge(c);
    // Both compared, always: the time taken says nothing about which one was wrong.
    const userMatches = timingSafeEqual(digest(given.username), expectedUser);
    const passwordMatches = timingSafeEqual(digest(given.password), expectedPassword);
    if (userMatches && passwordMatches) {
      c.set('staffUser', settings.ADMIN_USER);
      c.set('staffClient', client);
      return next();
    }
    const { failures, refusedForMs } = await throttle.recordFailure(key);
    const who = userMatches ? { user: settings.ADMIN_USER } : { user_known: false };
    log.warn({ client, ...who, failures, max_failures: throttle.maxFailures, path: c.req.path }, 'staff login failed');
    if (refusedForMs > 0) {
      log.warn({ client, refused_for_s: Math.ceil(refusedForMs / 1000) }, 'staff logins from this client refused: too many wrong passwords');
      return tooManyFailures(c, refusedForMs);
    }
    return challenge(c);
  };
}

// The count in Redis, with an in-process count standing in while Redis fails or is slower than a
// second (each instance then counts alone).
export function redisLoginThrottle(redis: RedisConnection, settings: StaffAuthSettings): LoginThrottle {
  const max = settings.ADMIN_LOGIN_MAX_FAILURES;
  const keyPrefix = `${settings.QUEUE_PREFIX}:login-failures`;
  const window = { keyPrefix, points: max, duration: settings.ADMIN_LOGIN_WINDOW_S };
  const limiter = new RLWrapperTimeouts({
    limiter: new RateLimiterRedis({
      ...window,
      storeClient: redis,
      rejectIfRedisNotReady: true,
      // A refused address is refused from memory for the rest of its window: a flood of guesses
      // costs Redis one command per instance, not one per request.
      inMemoryBlockOnConsumed: max + 1,
      insuranceLimiter: new RateLimiterMemory(window),
    }),
    timeoutMs: REDIS_TIMEOUT_MS,
  });
  return {
    maxFailures: max,
    async refusedForMs(key) {
      const res = await limiter.get(key).catch(() => null);
      return res && res.consumedPoints > max ? Math.max(1, res.msBeforeNext) : 0;
    },
    async recordFailure(key) {
      try {
        return { failures: (await limiter.consume(key)).consumedPoints, refusedForMs: 0 };
      } catch (refused) {
        if (refused instanceof RateLimiterRes) return { failures: refused.consumedPoints, refusedForMs: Math.max(1, refused.msBeforeNext) };
        throw refused;
      }
    },
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function challenge(c: Context): Response {
  c.header('WWW-Authenticate', `Basic realm="${STAFF_REALM}", charset="UTF-8"`);
  return problem(c, 401, 'Unauthorized', 'Staff only: log in with HTTP Basic (ADMIN_USER and ADMIN_PASSWORD).');
}

function tooManyFailures(c: Context, refusedForMs: number): Response {
  const seconds = Math.max(1, Math.ceil(refusedForMs / 1000));
  c.header('Retry-After', String(seconds));
  return problem(c, 429, 'Too many failed logins', `Too many wrong staff passwords from this address; retry in ${seconds} s.`);
}
