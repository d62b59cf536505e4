// http_request_duration_seconds by method, route pattern and status. The pattern, not the path,
// keeps the label set small (/orders/{id}, not every id).
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { HttpMetrics } from '../../metrics/metrics.ts';

export function requestMetrics(metrics: HttpMetrics): MiddlewareHandler {
  return async (c, next) => {
    const end = metrics.httpDuration.startTimer();
    await next();
    end({ method: c.req.method, route: routePath(c, -1), status: String(c.res.status) });
  };
}
