// The app's one error handler: every error becomes a problem response, and none carries internals.
// A route's ProblemError is its answer; a timeout is a 503; Postgres or Redis unreachable is a 503
// naming the dependency (every 503 with Retry-After); anything else is a 500. What the log gets is a short,
// redacted summary (src/api/error-summary.ts): never the query, its parameters or a stack, unless
// the log level is debug (then the stack too).
import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { isConnectionError } from '../../db/client.ts';
import { errorSummary } from '../error-summary.ts';
import { problem, ProblemError } from '../problem.ts';

// ioredis's and BullMQ's ways of saying "Redis is not there right now" (the command connection has
// no offline queue, so a command while Redis is away fails at once with the first one).
const REDIS_TROUBLE =
  /Stream isn't writeable|enableOfflineQueue|Connection is closed|Command timed out|Reached the max retries per request|ClusterAllFailed|Failed to refresh slots cache|CLUSTERDOWN|^LOADING|^READONLY|^TRYAGAIN|^OOM /;

export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'MaxRetriesPerRequestError' || err.name === 'ClusterAllFailedError' || REDIS_TROUBLE.test(err.message);
}

export function problemErrorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof ProblemError) {
      for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
      return problem(c, err.status, err.title, err.detail, err.errors);
    }
    if (err instanceof HTTPException) {
      if (err.res) return err.res;
      const status = err.status;
      // A request past REQUEST_TIMEOUT_MS: a 503 says when to retry, as every other 503 does.
      if (status === 503) c.header('retry-after', '1');
      const title = status === 400 ? 'Invalid request' : status === 503 ? 'Service unavailable' : 'Request refused';
      return problem(c, status, title, err.message || undefined);
    }
    const where = { path: c.req.path, method: c.req.method };
    if (isConnectionError(err)) {
      log.warn({ error: errorSummary(err), ...where }, 'postgres unavailable: check DATABASE_URL and that Postgres is running');
      c.header('retry-after', '1');
      return problem(c, 503, 'Service unavailable', 'The database is not answering; retry in a moment.');
    }
    if (isRedisUnavailable(err)) {
      log.warn({ error: errorSummary(err), ...where }, 'redis unavailable: check REDIS_URL (or REDIS_CLUSTER_NODES) and that Redis is running');
      c.header('retry-after', '1');
      return problem(c, 503, 'Service unavailable', 'Redis is not answering; retry in a moment.');
    }
    log.error({ error: errorSummary(err, log.isLevelEnabled('debug')), ...where }, 'unhandled error');
    return problem(c, 500, 'Internal error', 'Something went wrong on our side; the error is logged.');
  };
}
