// The start-time check that postgres.js carries patches/postgres.mjs (porsager/postgres#1208: a
// connection dying inside a transaction takes the whole process down). The patch runs at
// postinstall and fails the install on a mismatch, but `npm ci --ignore-scripts` (or a copied
// node_modules) skips it, and the unpatched driver would run silently until Postgres restarts.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

// Must match MARK and FILES in patches/postgres.mjs (driver-guard.test.ts checks that they do).
export const DRIVER_PATCH_MARK = 'pizza-outbox patch (porsager/postgres#1208)';
export const DRIVER_PATCHED_FILES = ['src/connection.js', 'src/index.js', 'cjs/src/connection.js', 'cjs/src/index.js', 'cf/src/connection.js', 'cf/src/index.js'] as const;

// Resolved as the patch resolves it: the project's own node_modules/postgres.
const DEFAULT_DRIVER_DIR = fileURLToPath(new URL('../../node_modules/postgres/', import.meta.url));

/**
 * Throws unless every postgres.js build in `driverDir` (default: the project's
 * node_modules/postgres) carries the patch's marker. The message says how to fix it.
 */
export function assertPatchedDriver(driverDir: string = DEFAULT_DRIVER_DIR): void {
  const unpatched: string[] = [];
  for (const file of DRIVER_PATCHED_FILES) {
    const path = join(driverDir, file);
    if (!existsSync(path) || !readFileSync(path, 'utf8').includes(DRIVER_PATCH_MARK)) unpatched.push(`postgres/${file}`);
  }
  if (unpatched.length > 0) {
    throw new Error(
      `postgres.js is not patched (${unpatched.join(', ')} in ${driverDir} lack the guards against porsager/postgres#1208 and #1195): ` +
        'run `npm ci` (without --ignore-scripts), or `node patches/postgres.mjs`',
    );
  }
}
