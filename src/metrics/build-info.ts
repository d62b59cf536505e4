// What build this process runs: the package's version (read from the package.json above this
// file, whether it runs from src/ or a compiled dist/), the commit of the checkout it runs from
// (read from .git beside package.json; "unknown" in an image built without .git), and Node's version.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  commit: string;
  node: string;
}

function packageRoot(): { dir: string; version: string } | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pizza-outbox') return { dir, version: pkg.version ?? 'unknown' };
    }
    dir = dirname(dir);
  }
  return undefined;
}

// HEAD as a commit id: detached, or through its branch's ref (loose or packed).
function gitCommit(root: string): string {
  try {
    const git = join(root, '.git');
    const head = readFileSync(join(git, 'HEAD'), 'utf8').trim();
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (!ref) return /^[0-9a-f]{40}$/.test(head) ? head.slice(0, 12) : 'unknown';
    if (existsSync(join(git, ref))) return readFileSync(join(git, ref), 'utf8').trim().slice(0, 12);
    const packed = readFileSync(join(git, 'packed-refs'), 'utf8')
      .split('\n')
      .find((l) => l.endsWith(` ${ref}`));
    return packed?.slice(0, 12) ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  if (!cached) {
    const root = packageRoot();
    cached = { version: root?.version ?? 'unknown', commit: root ? gitCommit(root.dir) : 'unknown', node: process.versions.node };
  }
  return cached;
}
