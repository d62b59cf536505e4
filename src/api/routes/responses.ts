// The responses and response headers the routes share in the OpenAPI document, defined once, so the
// document says the same thing wherever the code does. Each header is documented on the statuses
// that really send it (test/openapi-contract.test.ts drives every status and checks them):
//   Location             201 of POST /orders and /pizza (the order's URL), replays included
//   Idempotent-Replayed  that 201 when it is the stored response of an earlier request with the key
//   Retry-After          every 429 (rate-limit.ts, staff-auth.ts), every problem 503 (error-handler.ts,
//                        idempotency.ts), the 409 of a key still in use
//   RateLimit-*          answers of a rate-limited operation once the limiter has counted them (its
//                        success and its 429), while its *_RATE_LIMIT_PER_MINUTE is above 0
//   WWW-Authenticate     every 401
import type { RouteConfig } from '@hono/zod-openapi';
import { STAFF_REALM } from '../middleware/staff-auth.ts';
import { ProblemSchema } from '../schemas.ts';

type Response = Exclude<RouteConfig['responses'][string], { $ref: string }>;
// The part of OpenAPI's Header Object these headers use (a plain string or integer schema). A type,
// not an interface: the document's types take extension fields (`x-…`), which only a type allows for.
type Header = {
  description: string;
  required: boolean;
  schema: { type: 'string' | 'integer'; minimum?: number; format?: string; pattern?: string; enum?: string[]; example?: string };
};
type Headers = Record<string, Header>;

const seconds: Header['schema'] = { type: 'integer', minimum: 1 };

export const LOCATION: Headers = {
  Location: {
    description: 'The order: GET it for its status, payment, delivery and invoice.',
    required: true,
    schema: { type: 'string', format: 'uri-reference', example: '/orders/0b5c6f9e-2f55-4c36-9a59-0f2b8c1f7f3e' },
  },
};

export const IDEMPOTENT_REPLAYED: Headers = {
  'Idempotent-Replayed': {
    description: 'Present, and `true`, when this is the stored response of the first request with this Idempotency-Key (nothing new was stored).',
    required: false,
    schema: { type: 'string', enum: ['true'] },
  },
};

const RETRY_AFTER: Headers = { 'Retry-After': { description: 'Seconds to wait before retrying.', required: true, schema: seconds } };

const whileLimited = 'while the rate limit is on (its `*_RATE_LIMIT_PER_MINUTE` above 0)';
// IETF draft RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, the separate-fields form).
export const RATE_LIMIT: Headers = {
  'RateLimit-Limit': { description: `Requests allowed per window for this client, ${whileLimited}.`, required: false, schema: seconds },
  'RateLimit-Remaining': { description: `Requests left in the current window, ${whileLimited}.`, required: false, schema: { type: 'integer', minimum: 0 } },
  'RateLimit-Reset': { description: `Seconds until the window resets, ${whileLimited}.`, required: false, schema: seconds },
  'RateLimit-Policy': {
    description: `The limit and its window in seconds (\`60;w=60\`), ${whileLimited}.`,
    required: false,
    schema: { type: 'string', pattern: '^[0-9]+;w=[0-9]+$', example: '60;w=60' },
  },
};

export const NO_STORE: Headers = { 'Cache-Control': { description: 'The token is never cached.', required: true, schema: { type: 'string', enum: ['no-store'] } } };

// Which challenges a 401 carries: staff only (the admin area), or the caller routes' Bearer
// (customer and order tokens) and staff Basic, one or both.
const CHALLENGES = {
  staff: { pattern: `^Basic realm="${STAFF_REALM}"`, example: `Basic realm="${STAFF_REALM}", charset="UTF-8"` },
  caller: { pattern: '^(Bearer|Basic)([ ,]|$)', example: 'Bearer error="invalid_token"' },
};

export function problemResponse(description: string, headers?: Headers): Response {
  return { description, ...(headers ? { headers } : {}), content: { 'application/problem+json': { schema: ProblemSchema } } };
}

// A 401 with its WWW-Authenticate challenge (a browser shows its Basic login dialog for the staff one).
export function unauthorized(description: string, who: keyof typeof CHALLENGES): Response {
  const challenge = CHALLENGES[who];
  return problemResponse(description, {
    'WWW-Authenticate': {
      description:
        who === 'staff' ? 'The staff Basic challenge.' : 'The challenge: `Bearer` (with `error="invalid_token"` for a token that is no longer valid), staff `Basic`, or both.',
      required: true,
      schema: { type: 'string', pattern: challenge.pattern, example: challenge.example },
    },
  });
}

// A 429: the operation's own rate limit (with the RateLimit headers), or too many wrong staff
// passwords from the client's address (staff-auth.ts), wherever staff Basic is accepted.
export function tooManyRequests(rateLimited?: string): Response {
  const staff = 'too many wrong staff passwords from this address (ADMIN_LOGIN_MAX_FAILURES in ADMIN_LOGIN_WINDOW_S), right password or not';
  if (!rateLimited) return problemResponse(`With staff Basic: ${staff}.`, RETRY_AFTER);
  return problemResponse(`Past ${rateLimited} per client and minute, or, with staff Basic, ${staff}.`, { ...RETRY_AFTER, ...RATE_LIMIT });
}

// Postgres (or Redis) does not answer, or the request ran past REQUEST_TIMEOUT_MS: always with Retry-After.
export function unavailable(what = 'Postgres', more = ''): Response {
  return problemResponse(`${what} is not answering, or the request took longer than REQUEST_TIMEOUT_MS; retry later.${more && ` ${more}`}`, RETRY_AFTER);
}

// A 409 for an Idempotency-Key whose first request is still running.
export const keyInUse = problemResponse('A request with this Idempotency-Key is still running; retry after Retry-After to get its response', RETRY_AFTER);

// What every request with a body may be refused for (src/api/middleware/body-limit.ts, json-only.ts).
export const BODY_REFUSALS = {
  413: problemResponse('The body is over 64 KiB'),
  415: problemResponse('A body whose Content-Type is not application/json'),
} as const;
