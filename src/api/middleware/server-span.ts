// The HTTP SERVER span of each request (semantic conventions for HTTP): child of the caller's
// traceparent, named `{method} {route}`, with the method, route, path and status. Real only when
// an OpenTelemetry SDK is registered.
import type { MiddlewareHandler } from 'hono';
import { markError, inSpan } from '../../tracing.ts';
import { routeLabel, UNMATCHED_ROUTE } from './request-metrics.ts';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

export function serverSpan(): MiddlewareHandler {
  return (c, next) => {
    const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : '_OTHER';
    const parent = { traceparent: c.req.header('traceparent'), tracestate: c.req.header('tracestate') };
    const attributes = { 'http.request.method': method, 'url.path': c.req.path, 'url.scheme': new URL(c.req.url).protocol.slice(0, -1) };
    return inSpan(
      method === '_OTHER' ? 'HTTP' : method,
      'server',
      parent,
      async (span) => {
        await next();
        const route = routeLabel(c);
        if (route !== UNMATCHED_ROUTE) {
          span.setAttribute('http.route', route);
          span.updateName(`${method === '_OTHER' ? 'HTTP' : method} ${route}`);
        }
        const status = c.res.status;
        span.setAttribute('http.response.status_code', status);
        // Hono's onError turns a throw into a response before it gets here: the status tells.
        if (status >= 500) {
          markError(span, c.error ?? new Error(`HTTP ${status}`));
          span.setAttribute('error.type', String(status));
        }
      },
      attributes,
    );
  };
}
