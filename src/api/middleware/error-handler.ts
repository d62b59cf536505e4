// The app's one error handler: every error becomes a problem response, and none carries internals.
// A route's ProblemError is its answer; a timeout is a 503; Postgres unreachable is a 503 with
// Retry-After; anything else is a 500 whose details go to the log only.
import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { isConnectionError } from '../../db/client.ts';
import { problem, ProblemError } from '../problem.ts';

export function problemErrorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof ProblemError) {
      for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
      return problem(c, err.status, err.title, err.detail);
    }
    if (err instanceof HTTPException) {
      if (err.res) return err.res;
      const status = err.status;
      const title = status === 400 ? 'Invalid request' : status === 503 ? 'Service unavailable' : 'Request refused';
      return problem(c, status, title, err.message || undefined);
    }
    if (isConnectionError(err)) {
      log.warn({ code: (err as { code?: string }).code, path: c.req.path }, 'postgres unavailable');
      c.header('retry-after', '1');
      return problem(c, 503, 'Service unavailable', 'The database is not answering; retry in a moment.');
    }
    log.error({ err, path: c.req.path, method: c.req.method }, 'unhandled error');
    return problem(c, 500, 'Internal error', 'Something went wrong on our side; the error is logged.');
  };
}
