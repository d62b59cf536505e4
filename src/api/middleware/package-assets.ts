// Serves a fixed list of files from an installed npm package (the API reference's bundle, Bull
// Board's fonts), so the pages need no CDN. The package's version is part of the URL, so the files
// can be cached for a year: an upgrade changes the URL, never the bytes behind one.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import type { Handler } from 'hono';

export const IMMUTABLE = 'public, max-age=31536000, immutable';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

export interface PackageAssets {
  version: string;
  // The URL prefix the files are served under: `${mount}/${version}`.
  base: string;
  // Where a package file is served, e.g. url('swagger-ui.css').
  url(file: string): string;
  // A GET handler for `${base}/*`: a listed file, or 404 for anything else (no path is ever joined
  // from the request, so nothing outside the list can be read).
  handler: Handler;
}

const require = createRequire(import.meta.url);

export function packageDir(pkg: string): string {
  return dirname(require.resolve(`${pkg}/package.json`));
}

export function packageAssets(pkg: string, mount: string, files: readonly string[]): PackageAssets {
  const dir = packageDir(pkg);
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
  const base = `${mount}/${version}`;
  const listed = new Set(files);
  for (const file of files) {
    if (!CONTENT_TYPES[extname(file)]) throw new Error(`${pkg}/${file}: no content type for ${extname(file) || 'a file without extension'}`);
    readFileSync(join(dir, file)); // fail at start, not on the first request, if the package lacks a file
  }
  const cache = new Map<string, Promise<Buffer>>();
  const read = (file: string) => {
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = readFile(join(dir, file));
      cache.set(file, bytes);
    }
    return bytes;
  };
  return {
    version,
    base,
    url: (file) => {
      if (!listed.has(file)) throw new Error(`${pkg}/${file} is not among the served files`);
      return `${base}/${file}`;
    },
    handler: async (c) => {
      const file = c.req.path.slice(base.length + 1);
      if (!c.req.path.startsWith(`${base}/`) || !listed.has(file)) return c.notFound();
      const bytes = await read(file);
      return c.body(new Uint8Array(bytes), 200, { 'content-type': CONTENT_TYPES[extname(file)]!, 'cache-control': IMMUTABLE });
    },
  };
}

// A script of the server's own (a page's start-up code), served as a same-origin file so the page
// needs no inline code. Named by its content, so it can be cached like the package files.
export function ownScript(dir: string, name: string, source: string): { url: string; handler: Handler } {
  const url = `${dir}/${name}.${createHash('sha256').update(source).digest('hex').slice(0, 12)}.js`;
  return { url, handler: (c) => c.body(source, 200, { 'content-type': CONTENT_TYPES['.js']!, 'cache-control': IMMUTABLE }) };
}
