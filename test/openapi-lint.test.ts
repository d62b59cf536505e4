// The OpenAPI document the API serves, linted by Redocly CLI with its recommended rules (redocly.yaml
// lists each rule turned off, with why). `npm run lint:openapi` runs this file alone.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestContext, type TestContext } from './support/context.ts';
import { startSystem, type RunningSystem } from './support/system.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const REDOCLY = join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

let ctx: TestContext;
let system: RunningSystem;
let dir: string;

beforeAll(async () => {
  ctx = await createTestContext();
  system = await startSystem(ctx, ['api']);
  dir = await mkdtemp(join(tmpdir(), 'openapi-lint-'));
});

afterAll(async () => {
  await system?.stop();
  await ctx?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('passes `redocly lint` with the recommended rules: no error, no warning', async () => {
  const res = await fetch(`${system.url}/openapi.json`);
  expect(res.status).toBe(200);
  const file = join(dir, 'openapi.json');
  await writeFile(file, JSON.stringify(await res.json(), null, 2));
  // JSON on stdout (its totals and problems); its notices go to stderr. Exit 0 means no error; the
  // document has no warning either.
  const args = [REDOCLY, 'lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format', 'json'];
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
  const { code, stdout, stderr } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, env }).then(
    (out) => ({ code: 0, ...out }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
  );
  const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }> };
  const problems = report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
  expect(problems, stderr).toEqual([]);
  expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  expect(code).toBe(0);
});
