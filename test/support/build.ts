// The role processes the tests start run the compiled service, as `npm start` and the image do:
// src/ is built once per test run (vitest's globalSetup) into a directory of this run's own, never
// into the shared dist/, so two runs in one checkout, or a run beside a running `npm start`, cannot
// rewrite each other's files. The directory mirrors the package root (dist/ beside links to
// node_modules, sql, package.json and .git), so every path the code resolves from its own module
// (../../sql/, ../../node_modules/postgres/, the build info) and every package import works as it
// does from dist/.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LINKED = ['node_modules', 'sql', 'package.json', '.git'];
// tsc's exit status when it found type errors but wrote every output anyway: the tests run what
// was emitted (type errors are the type check's to report, as when the tests ran the TypeScript).
const EMITTED_WITH_ERRORS = 2;

export interface Build {
  dir: string; // the mirrored package root; the code is in dir/dist
  remove(): Promise<void>;
}

async function tscPath(): Promise<string> {
  const manifest = createRequire(import.meta.url).resolve('typescript/package.json');
  const { bin } = JSON.parse(await readFile(manifest, 'utf8')) as { bin: { tsc: string } };
  return join(dirname(manifest), bin.tsc);
}

// A run ended without its teardown (killed) leaves its build behind: remove those whose vitest is gone.
async function removeAbandonedBuilds(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [])) {
    const pid = Number(/^build-(\d+)-\d+$/.exec(name)?.[1]);
    if (!pid || isRunning(pid)) continue;
    await rm(join(parent, name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function buildForTests(): Promise<Build> {
  const parent = join(ROOT, 'test-artifacts');
  await removeAbandonedBuilds(parent);
  const dir = join(parent, `build-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    for (const name of LINKED) if (existsSync(join(ROOT, name))) await symlink(join(ROOT, name), join(dir, name));
    const args = [await tscPath(), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist'), '--tsBuildInfoFile', join(dir, 'tsbuildinfo')];
    await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((err: { code?: number; stdout?: string }) => {
      if (err.code !== EMITTED_WITH_ERRORS) throw new Error(`tsc -p tsconfig.build.json failed (exit ${err.code}):\n${err.stdout ?? err}`);
    });
  } catch (err) {
    await remove();
    throw err;
  }
  return { dir, remove };
}
