// Compiles src/ into dist/ (tsconfig.build.json), the JavaScript every role runs on plain node.
//   node scripts/build.mjs             always (npm run build, the Docker build stage)
//   node scripts/build.mjs --if-stale  only when a source is newer than the last build: the
//     pre-script of npm start and every role script, so `npm install && npm start` stays two
//     commands and a start with dist/ up to date compiles nothing (and needs no TypeScript).
// Plain JavaScript, so it runs before anything is built.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];
// Written after a build that succeeded, dated when it began: a file saved during the build is newer.
const STAMP = join(ROOT, 'dist', '.build-stamp');

function newestSourceMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function isStale() {
  if (!existsSync(STAMP)) return true;
  const inputs = Math.max(newestSourceMs(join(ROOT, 'src')), ...CONFIGS.map((f) => statSync(join(ROOT, f)).mtimeMs));
  return inputs > statSync(STAMP).mtimeMs;
}

// The package's own bin (its exports map hides bin/tsc from require.resolve).
function tscPath() {
  try {
    const manifest = createRequire(import.meta.url).resolve('typescript/package.json');
    return join(dirname(manifest), JSON.parse(readFileSync(manifest, 'utf8')).bin.tsc);
  } catch {
    return undefined;
  }
}

// tsc's exit status when it found type errors but wrote every output anyway.
const EMITTED_WITH_ERRORS = 2;

// `lenient`: a start before which a source changed runs what was emitted despite type errors, as
// running the TypeScript directly used to; `npm run build` (CI, the image) refuses them.
function build(lenient) {
  const tsc = tscPath();
  if (!tsc) {
    console.error('dist/ is missing or older than src/, and TypeScript is not installed (npm ci --omit=dev?): run npm run build where the dev dependencies are installed');
    process.exit(1);
  }
  const began = new Date();
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  if (lenient && result.status === EMITTED_WITH_ERRORS) {
    console.error('type errors above (npm run typecheck): dist/ was emitted anyway, starting it');
  } else if (result.status !== 0) {
    console.error('build failed: tsc -p tsconfig.build.json found the errors above');
    process.exit(result.status ?? 1);
  }
  closeSync(openSync(STAMP, 'w'));
  utimesSync(STAMP, began, began);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  if (!ifStale || isStale()) build(ifStale);
}
