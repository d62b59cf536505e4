// Customers: POST /users (sign up; its customer.created event goes through the outbox in the same
// statement), POST /users/login (a bearer token) and POST /users/logout (revokes it).
//
// The seed's user service answers POST /users with {"code":201,"message":…,"data":{"id":…}}; this
// API answers in its own style: the 201 status and the resource itself ({"id","email","created_at"}),
// errors as problem+json. `data.id` there is `id` here.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import { callerOf } from '../middleware/customer-auth.ts';
import { ProblemError } from '../problem.ts';
import { CreatedUserSchema, LoginSchema, NewUserSchema, TokenSchema } from '../schemas.ts';
import { BODY_REFUSALS, NO_STORE, problemResponse, RATE_LIMIT, tooManyRequests, unauthorized, unavailable } from './responses.ts';

// What the routes need from the database (src/api/customer-store.ts has the real one).
export interface CustomerStore {
  // Undefined when the email is taken.
  create(email: string, password: string, traceparent?: string): Promise<{ id: string; email: string; created_at: Date } | undefined>;
  // A new token for the right email and password, else undefined.
  login(email: string, password: string): Promise<{ token: string; expiresAt: Date; ttlS: number } | undefined>;
  // Revokes the token given as Bearer; false when it was not a valid customer token.
  logout(token: string): Promise<boolean>;
}

// The Authorization header goes through the same caller check as the order routes (customer-auth.ts):
// a bad one is refused even where none is needed.
const badAuthorization = 'an Authorization header that is not accepted (an unknown or malformed token, or wrong staff credentials)';
const signInLimit = 'AUTH_RATE_LIMIT_PER_MINUTE sign-ups and log-ins (POST /users and /users/login together)';
const signUpRoute = createRoute({
  method: 'post',
  path: '/users',
  operationId: 'createUser',
  summary: 'Sign up as a customer',
  description: 'The password (10 to 128 characters, not a common one) is stored as a scrypt hash. Emits customer.created through the outbox.',
  security: [{}],
  request: { body: { required: true, content: { 'application/json': { schema: NewUserSchema } } } },
  responses: {
    201: { description: 'The new customer', headers: RATE_LIMIT, content: { 'application/json': { schema: CreatedUserSchema } } },
    400: problemResponse('Malformed JSON, a body that is not UTF-8, a malformed email, or a password too short, too long or too common (see `errors`)'),
    401: unauthorized(`Sign-up needs no credentials, but ${badAuthorization} is refused`, 'caller'),
    409: problemResponse('A customer with this email exists'),
    ...BODY_REFUSALS,
    429: tooManyRequests(signInLimit),
    503: unavailable(),
  },
});

const loginRoute = createRoute({
  method: 'post',
  path: '/users/login',
  operationId: 'logIn',
  summary: 'Log in: a bearer token for the customer',
  security: [{}],
  request: { body: { required: true, content: { 'application/json': { schema: LoginSchema } } } },
  responses: {
    200: { description: 'The token; send it as Authorization: Bearer', headers: { ...NO_STORE, ...RATE_LIMIT }, content: { 'application/json': { schema: TokenSchema } } },
    400: problemResponse('Malformed JSON, a body that is not UTF-8, or a field that is malformed'),
    401: unauthorized(`Wrong email or password, or ${badAuthorization}`, 'caller'),
    ...BODY_REFUSALS,
    429: tooManyRequests(signInLimit),
    503: unavailable(),
  },
});

const logoutRoute = createRoute({
  method: 'post',
  path: '/users/logout',
  operationId: 'logOut',
  summary: 'Log out: the token given as Bearer stops working',
  security: [{ customerBearer: [] }],
  responses: {
    204: { description: 'Revoked' },
    400: problemResponse('A body (none is needed) that is not UTF-8'),
    401: unauthorized('No customer token, or one that is unknown, expired or already logged out', 'caller'),
    ...BODY_REFUSALS,
    429: tooManyRequests(),
    503: unavailable(),
  },
});

export function registerUserRoutes(app: OpenAPIHono, customers: CustomerStore, log: Logger): void {
  app.openapi(signUpRoute, async (c) => {
    const { email, password } = c.req.valid('json');
    const customer = await customers.create(email, password, c.req.header('traceparent'));
    if (!customer) throw new ProblemError(409, 'Email taken', 'A customer with this email exists: log in with POST /users/login.');
    log.info({ customer_id: customer.id }, 'customer created'); // never the password, nor the email
    return c.json({ id: customer.id, email: customer.email, created_at: customer.created_at.toISOString() }, 201);
  });

  app.openapi(loginRoute, async (c) => {
    const { email, password } = c.req.valid('json');
    const session = await customers.login(email, password);
    if (!session) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new ProblemError(401, 'Login failed', 'Wrong email or password.');
    }
    c.header('cache-control', 'no-store');
    return c.json({ access_token: session.token, token_type: 'Bearer' as const, expires_in: session.ttlS, expires_at: session.expiresAt.toISOString() }, 200);
  });

  app.openapi(logoutRoute, async (c) => {
    // customer-auth has verified the token already: a bad one never gets here.
    const caller = callerOf(c);
    const token = c.req.header('authorization')?.trim().split(/\s+/)[1];
    if (caller.kind !== 'customer' || !token || !(await customers.logout(token))) {
      c.header('WWW-Authenticate', 'Bearer');
      throw new ProblemError(401, 'Unauthorized', 'Log out with the customer token as Authorization: Bearer.');
    }
    return c.body(null, 204);
  });
}
