// Content-Security-Policy on every response. The JSON API renders nothing, so it gets the tightest
// policy there is; the two HTML pages (the API reference at /docs and Bull Board) each set a policy
// that lets exactly their own same-origin assets run and loads nothing from any other host. Every
// policy forbids framing, so no other site can overlay the admin pages (clickjacking).
import type { MiddlewareHandler } from 'hono';

// Directive name → sources, e.g. { 'script-src': ["'self'"] }.
export type Policy = Readonly<Record<string, readonly string[]>>;

export const API_POLICY: Policy = { 'default-src': ["'none'"], 'frame-ancestors': ["'none'"] };

// The base for an HTML page built from same-origin files only: scripts and stylesheets from this
// origin (no inline code, no eval), images from this origin or data: URLs (both pages draw icons
// as data: SVGs), fetches to this origin only, no forms, no <base> rewriting, no framing.
export const PAGE_POLICY: Policy = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

export function serializePolicy(policy: Policy): string {
  return Object.entries(policy)
    .map(([directive, sources]) => [directive, ...sources].join(' '))
    .join('; ');
}

const HEADER = 'Content-Security-Policy';

// App-wide: every response that has no policy of its own (from pagePolicy below) gets API_POLICY.
export function defaultContentSecurityPolicy(): MiddlewareHandler {
  const value = serializePolicy(API_POLICY);
  return async (c, next) => {
    await next();
    if (!c.res.headers.has(HEADER)) c.res.headers.set(HEADER, value);
  };
}

// For an HTML page's routes: its HTML responses get `policy`; anything else from those routes (a
// problem+json error, say) keeps the API policy.
export function pagePolicy(policy: Policy): MiddlewareHandler {
  const value = serializePolicy(policy);
  return async (c, next) => {
    await next();
    if (isHtml(c.res)) c.res.headers.set(HEADER, value);
  };
}

export function isHtml(res: Response): boolean {
  return res.headers.get('content-type')?.startsWith('text/html') ?? false;
}
