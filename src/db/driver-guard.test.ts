import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { assertPatchedDriver, DRIVER_PATCH_MARK, DRIVER_PATCHED_FILES } from './driver-guard.ts';

const installed = fileURLToPath(new URL('../../node_modules/postgres/', import.meta.url));
const patchScript = readFileSync(new URL('../../patches/postgres.mjs', import.meta.url), 'utf8');

describe('assertPatchedDriver', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  // A copy of the installed driver's patched files, in a temp dir.
  function copyOfInstalled(): string {
    const dir = mkdtempSync(join(tmpdir(), 'driver-guard-'));
    dirs.push(dir);
    for (const file of DRIVER_PATCHED_FILES) cpSync(join(installed, file), join(dir, file), { recursive: true });
    return dir;
  }

  it('uses the marker and the files patches/postgres.mjs writes', () => {
    expect(patchScript).toContain(`const MARK = '${DRIVER_PATCH_MARK}';`);
    expect(patchScript).toContain(`const FILES = [${DRIVER_PATCHED_FILES.map((f) => `'${f}'`).join(', ')}];`);
  });

  it('passes on the installed (patched) driver', () => {
    expect(() => assertPatchedDriver()).not.toThrow();
    expect(() => assertPatchedDriver(copyOfInstalled())).not.toThrow();
  });

  it('fails on a copy where one build lacks the marker, and says how to fix it', () => {
    const dir = copyOfInstalled();
    const file = join(dir, 'cjs/src/connection.js');
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll(DRIVER_PATCH_MARK, 'unpatched'));
    expect(() => assertPatchedDriver(dir)).toThrow(/postgres\/cjs\/src\/connection\.js/);
    expect(() => assertPatchedDriver(dir)).toThrow(/run `npm ci` \(without --ignore-scripts\), or `node patches\/postgres\.mjs`/);
  });

  it('fails when the driver is not there at all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'driver-guard-empty-'));
    dirs.push(dir);
    expect(() => assertPatchedDriver(dir)).toThrow(DRIVER_PATCHED_FILES.map((f) => `postgres/${f}`).join(', '));
  });
});
