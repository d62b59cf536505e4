// Cross-site request forgery guard for the staff area. A browser that holds an operator's Basic
// credentials attaches them to any request for this origin, whoever's page started it: a form on
// another site could replay outbox rows or add jobs through Bull Board's API. So a request that
// changes state (any method but GET, HEAD, OPTIONS) must come from this origin:
//
// - Sec-Fetch-Site, when present, decides: only `same-origin` passes. Browsers set it themselves
//   (pages cannot) on every request to https and to localhost. `same-site` is refused too: another
//   port on this host is the same site but not the same origin.
// - Otherwise Origin, when present, must name this host (the Host header; the scheme is left out,
//   so a TLS-terminating proxy in front does not refuse every request). `null` is refused.
// - With neither header the request did not come from a browser page (curl, scripts, the outbox
//   CLI): a browser always sends Origin on a cross-origin POST, PUT, PATCH or DELETE, and its
//   credentials are what CSRF abuses. Such a request passes, still needing the password.
//
// Unlike Hono's `csrf` middleware (which checks only form and text/plain content types), this
// refuses every content type, a missing one and an empty body included.
import type { MiddlewareHandler } from 'hono';
import { problem } from '../problem.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sameOriginOnly(): MiddlewareHandler {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const refusal = crossOriginRefusal(c.req.header('sec-fetch-site'), c.req.header('origin'), c.req.header('host'));
    if (refusal) return problem(c, 403, 'Cross-origin request refused', refusal);
    return next();
  };
}

// Why the request is refused, or undefined when it may go on.
export function crossOriginRefusal(secFetchSite: string | undefined, origin: string | undefined, host: string | undefined): string | undefined {
  if (secFetchSite !== undefined) {
    return secFetchSite === 'same-origin' ? undefined : `State-changing staff requests must come from this origin (Sec-Fetch-Site: ${secFetchSite}).`;
  }
  if (origin === undefined) return undefined;
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch {
    // `null` (sandboxed frames, some redirects) or garbage: not this origin.
  }
  if (originHost && host && originHost.toLowerCase() === host.toLowerCase()) return undefined;
  return 'State-changing staff requests must come from this origin (the Origin header names another one).';
}
