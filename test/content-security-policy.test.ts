// Content-Security-Policy and framing over plain HTTP, through the real server: every response
// forbids framing; the JSON API gets default-src 'none'; /docs and Bull Board get their strict page
// policies (no 'unsafe-inline', no 'unsafe-eval', no other host), and everything those pages link
// is served by this server from pinned packages, with a year-long cache. (The browser tests in
// test/browser/ show the pages working under these policies.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ADMIN_PASSWORD, type TestContext } from './support/context.ts';
import { startSystem, type RunningSystem } from './support/system.ts';

const AUTH = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}` };
const API_POLICY = "default-src 'none'; frame-ancestors 'none'";
const IMMUTABLE = 'public, max-age=31536000, immutable';

let ctx: TestContext;
let system: RunningSystem;

beforeAll(async () => {
  ctx = await createTestContext();
  system = await startSystem(ctx, ['api']);
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${system.url}${path}`, { headers });

// A page policy as directive → sources.
function directives(policy: string | null): Map<string, string[]> {
  expect(policy).toBeTruthy();
  return new Map(
    policy!
      .split(';')
      .map((part) => part.trim().split(/\s+/) as [string, ...string[]])
      .map(([name, ...sources]) => [name, sources]),
  );
}

function expectStrictPagePolicy(policy: string | null): Map<string, string[]> {
  const parsed = directives(policy);
  expect(parsed.get('default-src')).toEqual(["'none'"]);
  expect(parsed.get('script-src')).toEqual(["'self'"]);
  expect(parsed.get('frame-ancestors')).toEqual(["'none'"]);
  expect(policy).not.toMatch(/'unsafe-inline'|'unsafe-eval'|https?:|\*/);
  return parsed;
}

// Every src/href in a page: paths on this server, absolute or relative (no scheme, no //host).
function linkedPaths(html: string): string[] {
  const urls = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
  for (const url of urls) expect(url, 'a page links nothing on another host').toMatch(/^(?![a-z][a-z\d+.-]*:|\/\/)./i);
  return urls;
}

async function expectImmutableAsset(path: string, contentType: RegExp, headers: Record<string, string> = {}): Promise<Response> {
  const res = await get(path, headers);
  expect(res.status, path).toBe(200);
  expect(res.headers.get('content-type'), path).toMatch(contentType);
  expect(res.headers.get('cache-control'), path).toBe(IMMUTABLE);
  return res;
}

describe('the JSON API', () => {
  it('answers every response with default-src none and no framing', async () => {
    for (const [path, headers, status] of [
      ['/health/live', {}, 200],
      ['/orders', AUTH, 200],
      ['/orders', {}, 401],
      ['/openapi.json', {}, 200],
      ['/no-such-route', {}, 404],
      ['/admin/outbox?state=dead', AUTH, 200],
      ['/admin/outbox?state=dead', {}, 401],
      ['/admin/queues', {}, 401],
    ] as const) {
      const res = await get(path, headers);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-security-policy'), path).toBe(API_POLICY);
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
    }
  });
});

describe('/docs', () => {
  it('has a strict page policy and links only its own pinned, cached assets', async () => {
    const res = await get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const policy = expectStrictPagePolicy(res.headers.get('content-security-policy'));
    expect(policy.get('style-src')).toEqual(["'self'"]);
    expect(policy.get('connect-src')).toEqual(["'self'"]);
    expect(res.headers.get('x-frame-options')).toBe('DENY');

    const html = await res.text();
    expect(html).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/); // no inline code for the policy to refuse
    const paths = linkedPaths(html);
    expect(paths.some((path) => /\/swagger-ui-bundle\.js$/.test(path))).toBe(true);
    expect(paths).toContain('/openapi.json'); // <link rel="service-desc">: the document the page renders
    for (const path of paths.filter((p) => p !== '/openapi.json')) await expectImmutableAsset(path, /^(text\/javascript|text\/css|image\/png)/);
  });

  it('serves only the listed files of the package', async () => {
    const bundle = linkedPaths(await (await get('/docs')).text()).find((path) => path.endsWith('/swagger-ui-bundle.js'))!;
    const base = bundle.slice(0, bundle.lastIndexOf('/'));
    for (const path of [`${base}/package.json`, `${base}/swagger-ui-bundle.js.map`, `${base}/%2e%2e/%2e%2e/package.json`]) {
      expect((await get(path)).status, path).toBe(404);
    }
  });
});

describe('Bull Board', () => {
  it('has a strict page policy with a fresh nonce per response, and no Google Fonts', async () => {
    const first = await get('/admin/queues', AUTH);
    expect(first.status).toBe(200);
    const policy = expectStrictPagePolicy(first.headers.get('content-security-policy'));
    expect(policy.get('connect-src')).toEqual(["'self'"]);
    expect(policy.get('font-src')).toEqual(["'self'"]);
    const html = await first.text();
    expect(html).not.toContain('fonts.googleapis.com');
    linkedPaths(html);

    // The nonce in style-src is the one on the page's style-nonce script, and new every response.
    const nonce = policy
      .get('style-src')!
      .find((source) => source.startsWith("'nonce-"))!
      .slice(7, -1);
    expect(html).toContain(`nonce="${nonce}"`);
    const again = directives((await get('/admin/queues', AUTH)).headers.get('content-security-policy'));
    expect(again.get('style-src')).not.toContain(`'nonce-${nonce}'`);
  });

  it('serves the board fonts itself, stylesheets and font files, with a year-long cache', async () => {
    const html = await (await get('/admin/queues', AUTH)).text();
    const stylesheets = [...html.matchAll(/<link href="(\/admin\/assets\/fonts\/[^"]+\.css)"/g)].map((m) => m[1]!);
    expect(stylesheets.some((path) => path.includes('/ibm-plex-sans/'))).toBe(true);
    expect(stylesheets.some((path) => path.includes('/ibm-plex-mono/'))).toBe(true);
    for (const css of stylesheets) {
      const text = await (await expectImmutableAsset(css, /^text\/css/, AUTH)).text();
      const fonts = [...text.matchAll(/url\(\.\/(files\/[^)]+\.woff2)\)/g)].map((m) => new URL(m[1]!, `${system.url}${css}`).pathname);
      expect(fonts.length, css).toBeGreaterThan(0);
      for (const font of fonts) await expectImmutableAsset(font, /^font\/woff2$/, AUTH);
    }
    // Behind the admin area's basic auth, like the rest of it.
    expect((await get(stylesheets[0]!)).status).toBe(401);
  });
});
