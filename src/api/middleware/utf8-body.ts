// A JSON body must be valid UTF-8 (RFC 8259). Request#text() decodes with replacement: bytes that
// are no UTF-8 (a lone surrogate's three bytes, a stray 0xff) would silently become U+FFFD and be
// stored changed. This reads the body once, decodes it strictly, and hands the text to Hono's
// body cache, where c.req.json() (the validators) parses it from.
import type { MiddlewareHandler } from 'hono';
import { problem } from '../problem.ts';

const strict = new TextDecoder('utf-8', { fatal: true });

export function utf8Body(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const bytes = await c.req.arrayBuffer();
    let text: string;
    try {
      text = strict.decode(bytes);
    } catch {
      return problem(c, 400, 'Invalid request', 'The body is not valid UTF-8; send JSON encoded as UTF-8.');
    }
    // Hono keeps each body reading as a promise in bodyCache (its type says the value itself).
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
    return next();
  };
}
