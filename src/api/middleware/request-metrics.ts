// http_request_duration_seconds by method, route pattern and status. The pattern, not the path,
// keeps the label set small (/orders/{id}, not every id).
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { HttpMetrics } from '../../metrics/metrics.ts';

// The route label of a request that no route matched (a 404 from notFound): one value for every
// such path, so a scan of random paths cannot grow the label set.
export const UNMATCHED_ROUTE = 'unmatched';

// The pattern of the most specific route that matched: the last one registered that is not a
// catch-all middleware (`*`, `/*`). Not routePath(c, -1): the app's catch-all middlewares come after
// /metrics, so that gave "/*" for every scrape, as for a 404.
export function routeLabel(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const path = routes[i]!.path;
    if (path !== '*' && path !== '/*') return path;
  }
  return UNMATCHED_ROUTE;
}

export function requestMetrics(metrics: HttpMetrics): MiddlewareHandler {
  return async (c, next) => {
    const end = metrics.httpDuration.startTimer();
    await next();
    end({ method: c.req.method, route: routeLabel(c), status: String(c.res.status) });
  };
}
