// No request body over `maxBytes`, chunked or not (a 413, and the connection closed).
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { problem } from '../problem.ts';

export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (c: Context) => {
    // The rest of the body is never read: close the connection so no client reuses it mid-body.
    c.header('connection', 'close');
    return problem(c, 413, 'Body too large', `The body must be at most ${maxBytes} bytes.`);
  };
  const limitStreamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    // A declared length is checked from the header alone (Node never reads past it). Hono's
    // bodyLimit would first build a WHATWG Request around the socket (a tenth of the API's CPU
    // per order); it is kept for chunked bodies, which it counts as they stream.
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) return Number(length) > maxBytes ? tooLarge(c) : next();
    return limitStreamed(c, next);
  };
}
