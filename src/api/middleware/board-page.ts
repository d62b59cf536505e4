// Bull Board's page under a strict Content-Security-Policy: scripts from this origin only, no eval,
// no 'unsafe-inline', nothing from any other host. What the page needs beyond its own files:
// - Google Fonts, linked by @bull-board/ui's index.ejs: the link is replaced with the same two
//   families, self-hosted from the pinned @fontsource packages (under the admin area's basic auth).
// - inline styles in the template (one <style>, the style="" attributes of the "Loading" dots) and
//   the <style> in the Redis logo's SVG the app renders: allowed by SHA-256 hash, the template's
//   computed at start from the installed file.
// - <style> elements the app's scripts create at run time (CodeMirror's editor theme, in the job
//   data dialogs), whose text differs per use and which Bull Board offers no nonce for: a small
//   same-origin script, loaded with the page's per-request nonce, gives that nonce to every <style>
//   element created through document.createElement. Markup parsed from HTML gets no nonce, so an
//   injected <style> is still refused.
// - a Web Worker for highlighting, loaded from the static files: a worker runs under the policy of
//   its own script's response, so the board's JavaScript gets the board's policy too (the API's
//   default-src 'none' would refuse the worker's importScripts).
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Handler, MiddlewareHandler } from 'hono';
import { isHtml, PAGE_POLICY, type Policy, serializePolicy } from './content-security-policy.ts';
import { ownScript, packageAssets, packageDir, type PackageAssets } from './package-assets.ts';

// The families and weights the template asks Google Fonts for (IBM Plex Sans 400/500/600, IBM Plex
// Mono 400/500); each weight's stylesheet covers every subset, and the browser fetches only the
// subsets (unicode-range) a page uses.
const FONTS = [
  { pkg: '@fontsource/ibm-plex-sans', weights: ['400', '500', '600'] },
  { pkg: '@fontsource/ibm-plex-mono', weights: ['400', '500'] },
] as const;

// The <style> inside the Redis logo's SVG that the app renders (@bull-board/ui 9.10.1, main.*.js).
// If an upgrade changes it, the browser test reports the violation (and the logo loses its fills).
const APP_INLINE_STYLES = [
  '\n      .rds-b1 {fill: #ae7d83}\n      .rds-b2 {fill: #c29ea2}\n      .rds-b3 {fill: #e2d0d2}\n\n' +
    '      .dark-mode .rds-b1 {fill: #a26169}\n      .dark-mode .rds-b2 {fill: #7b4a50}\n      .dark-mode .rds-b3 {fill: #514042}\n    ',
];

// Runs before the board's (deferred) scripts, with the nonce of its own <script> element.
const STYLE_NONCE_SCRIPT = `(() => {
  const nonce = document.currentScript.nonce;
  const createElement = Document.prototype.createElement;
  Document.prototype.createElement = function (name, options) {
    const element = createElement.call(this, name, options);
    if (String(name).toLowerCase() === 'style') element.nonce = nonce;
    return element;
  };
})();
`;

const THIRD_PARTY_FONT_LINK = /<link\b[^>]*\bhref="https:\/\/fonts\.(?:googleapis|gstatic)\.com\/[^"]*"[^>]*>\s*/g;
const HEADER = 'Content-Security-Policy';

export interface BoardPage {
  // @bull-board/ui's directory, for createBullBoard's uiBasePath: the template hashed here is then
  // the one the board renders.
  uiBasePath: string;
  // GET routes for the page's own assets (fonts, the nonce script).
  assets: { path: string; handler: Handler }[];
  // For the board's routes: the HTML gets the local fonts, the nonce script and its policy.
  middleware: MiddlewareHandler;
}

export function boardPage(assetMount: string): BoardPage {
  const uiBasePath = packageDir('@bull-board/ui');
  const template = readFileSync(join(uiBasePath, 'dist', 'index.ejs'), 'utf8');
  const fonts = FONTS.map(({ pkg, weights }) => fontAssets(pkg, `${assetMount}/fonts`, weights));
  const styleNonce = ownScript(assetMount, 'style-nonce', STYLE_NONCE_SCRIPT);
  const fontLinks = fonts.flatMap((font) => font.stylesheets.map((css) => `<link href="${font.assets.url(css)}" rel="stylesheet">`)).join('');
  const workerPolicy = serializePolicy(boardPolicy(template));
  return {
    uiBasePath,
    assets: [...fonts.map(({ assets }) => ({ path: `${assets.base}/*`, handler: assets.handler })), { path: styleNonce.url, handler: styleNonce.handler }],
    middleware: async (c, next) => {
      await next();
      if (isJavaScript(c.res)) c.res.headers.set(HEADER, workerPolicy);
      if (!isHtml(c.res)) return;
      const nonce = randomBytes(16).toString('base64');
      const head = `${fontLinks}<script src="${styleNonce.url}" nonce="${nonce}"></script></head>`;
      const html = (await c.res.text()).replace(THIRD_PARTY_FONT_LINK, '').replace('</head>', head);
      c.res.headers.delete('content-length'); // hono copies the old headers onto the new response
      c.res = new Response(html, c.res);
      c.res.headers.set(HEADER, serializePolicy(boardPolicy(template, nonce)));
    },
  };
}

// The page policy plus the template's and the app's inline styles by hash, and the nonce for
// script-created <style> elements. Style attributes can only be allowed by hash with
// 'unsafe-hashes' (a nonce cannot apply to an attribute); the hashes pin the exact declarations, so
// this allows those few and nothing else. The page sets <base href>, to its own path.
export function boardPolicy(template: string, nonce?: string): Policy {
  const literal = (text: string) => !text.includes('<%'); // EJS output differs per render: never hashed
  const elements = [...[...template.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!).filter(literal), ...APP_INLINE_STYLES];
  const attributes = [...new Set([...template.matchAll(/\sstyle="([^"]*)"/g)].map((m) => m[1]!).filter(literal))];
  return {
    ...PAGE_POLICY,
    'style-src': ["'self'", ...(nonce ? [`'nonce-${nonce}'`] : []), ...elements.map(sha256Source)],
    ...(attributes.length > 0 ? { 'style-src-attr': ["'unsafe-hashes'", ...attributes.map(sha256Source)] } : {}),
    'base-uri': ["'self'"],
  };
}

function isJavaScript(res: Response): boolean {
  return res.headers.get('content-type')?.startsWith('text/javascript') ?? false;
}

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

// One font package: the chosen weights' stylesheets and every font file they reference.
function fontAssets(pkg: string, mount: string, weights: readonly string[]): { assets: PackageAssets; stylesheets: string[] } {
  const dir = packageDir(pkg);
  const stylesheets = weights.map((weight) => `${weight}.css`);
  const files = stylesheets.flatMap((css) => [...readFileSync(join(dir, css), 'utf8').matchAll(/url\(\.\/(files\/[^)]+)\)/g)].map((m) => m[1]!));
  return { assets: packageAssets(pkg, `${mount}/${pkg.split('/').pop()}`, [...stylesheets, ...new Set(files)]), stylesheets };
}
