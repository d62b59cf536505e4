// Who is calling: a customer (a bearer token from POST /users/login), staff (HTTP Basic against
// ADMIN_USER / ADMIN_PASSWORD, through the staff guard with its throttle), or nobody, possibly
// holding an order's access token (a bearer token too, read by GET /orders/:id). The two kinds of
// bearer token carry their own prefix, so telling them apart needs no lookup: `cst_` for a
// customer's, `ord_` for an order's. A customer token that is unknown, expired or revoked is a 401
// (never a silent fall-back to anonymous: the order would not be the customer's).
import { createHash, randomBytes } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { problem } from '../problem.ts';

export const CUSTOMER_TOKEN_PREFIX = 'cst_';
export const ORDER_TOKEN_PREFIX = 'ord_';

export type Caller = { kind: 'customer'; customerId: string } | { kind: 'staff'; user: string } | { kind: 'anonymous'; bearer?: string | undefined };

declare module 'hono' {
  interface ContextVariableMap {
    caller: Caller;
  }
}

const ANONYMOUS: Caller = { kind: 'anonymous' };

// 32 random bytes: a token nobody guesses; only its SHA-256 is stored.
export function newToken(prefix: string): { token: string; hash: Buffer } {
  const token = `${prefix}${randomBytes(32).toString('base64url')}`;
  return { token, hash: tokenHash(token) };
}

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export interface CallerDeps {
  // The customer a token hash belongs to, while the token is valid.
  customerOfToken: (hash: Buffer) => Promise<string | undefined>;
  // The staff guard (src/api/middleware/staff-auth.ts): it sets `staffUser` and calls next for the
  // right password, and answers 401 or 429 itself otherwise. Without one, Basic is refused.
  staffGuard?: MiddlewareHandler | undefined;
}

export function identifyCaller({ customerOfToken, staffGuard }: CallerDeps): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) {
      c.set('caller', ANONYMOUS);
      return next();
    }
    const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
    if (/^basic$/i.test(scheme)) {
      if (!staffGuard) return unauthorized(c, 'Basic', 'Staff credentials are not accepted here.');
      return staffGuard(c, async () => {
        c.set('caller', { kind: 'staff', user: c.get('staffUser') });
        await next();
      });
    }
    if (!/^bearer$/i.test(scheme) || !value) return unauthorized(c, 'Bearer', 'Use Authorization: Bearer <token> (a customer token or an order access token), or Basic for staff.');
    if (!value.startsWith(CUSTOMER_TOKEN_PREFIX)) {
      c.set('caller', { kind: 'anonymous', bearer: value });
      return next();
    }
    const customerId = await customerOfToken(tokenHash(value));
    if (!customerId) return unauthorized(c, 'Bearer error="invalid_token"', 'This token is unknown, expired or logged out: log in again with POST /users/login.');
    c.set('caller', { kind: 'customer', customerId });
    return next();
  };
}

export function callerOf(c: Context): Caller {
  return c.get('caller') ?? ANONYMOUS;
}

// For the rate limiter's customerOf hook: only a verified customer picks its own bucket.
export function verifiedCustomerOf(c: Context): string | undefined {
  const caller = c.get('caller');
  return caller?.kind === 'customer' ? caller.customerId : undefined;
}

function unauthorized(c: Context, challenge: string, detail: string): Response {
  c.header('WWW-Authenticate', challenge.startsWith('Basic') ? 'Basic realm="pizza-outbox admin", charset="UTF-8"' : challenge);
  return problem(c, 401, 'Unauthorized', detail);
}
