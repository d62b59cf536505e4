// Requests that carry a body must send JSON (a 415 otherwise). Bodiless POSTs (admin actions) pass;
// a route that requires a body refuses them in validation. Mounted on the JSON API's own paths, so
// Bull Board's API, which takes other bodies, is not in its way.
import type { MiddlewareHandler } from 'hono';
import { problem } from '../problem.ts';

export function jsonOnly(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const hasBody = Number(c.req.header('content-length') ?? 0) > 0 || c.req.header('transfer-encoding') !== undefined;
    if (hasBody && !/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      return problem(c, 415, 'Unsupported media type', 'Send the body as JSON with Content-Type: application/json.');
    }
    return next();
  };
}
