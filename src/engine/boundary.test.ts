// The engine knows nothing of any service: no file of it imports, even for a type, anything outside
// the engine's own files (the order service, the invoice service, the API, config, tools).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The engine: its public entry (src/engine/) and the machinery it is built from.
const ENGINE_DIRS = ['engine', 'relay', 'redis'];
const ENGINE_FILES = [
  'outbox-admin/operations.ts',
  'metrics/metrics.ts',
  'metrics/build-info.ts',
  'metrics/outbox-gauges.ts',
  'metrics/queue-gauges.ts',
  'metrics/scrape-cache.ts',
  'db/client.ts',
  'db/driver-guard.ts',
  'db/migrate.ts',
  'db/outbox.ts',
  'db/outbox-admin.ts',
  'db/reconcile.ts',
  'db/retention.ts',
  'tracing.ts',
  'fault-points.ts',
  'logger.ts',
  'tls.ts',
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const isEngine = (path: string) => {
  const rel = relative(SRC, path);
  return ENGINE_DIRS.some((d) => rel.startsWith(`${d}/`)) || ENGINE_FILES.includes(rel);
};

const engineFiles = [...ENGINE_DIRS.flatMap((d) => filesUnder(join(SRC, d))), ...ENGINE_FILES.map((f) => join(SRC, f))].filter(
  // relay/main.ts is the order service's process entry for its relay role, not engine code.
  (f) => !f.endsWith('.test.ts') && !f.endsWith('/main.ts'),
);

describe('the engine boundary', () => {
  it('lists real files', () => {
    expect(engineFiles.length).toBeGreaterThan(20);
    for (const f of engineFiles) expect(statSync(f).isFile()).toBe(true);
  });

  it('imports nothing of the services that use it', () => {
    const crossings: string[] = [];
    for (const file of engineFiles) {
      const text = readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(file), spec!);
        if (!isEngine(target)) crossings.push(`${relative(SRC, file)} → ${relative(SRC, target)}`);
      }
    }
    expect(crossings).toEqual([]);
  });
});
