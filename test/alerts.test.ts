// The shipped Prometheus config and alert rules, checked by Prometheus's own promtool: the config
// and the rules are valid, and `promtool test rules` unit-tests every alert (fires on its
// condition, stays quiet without it). Skipped without promtool, except in CI.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const DIR = new URL('../deploy/prometheus/', import.meta.url).pathname;
const hasPromtool = await run('promtool', ['--version']).then(
  () => true,
  () => false,
);
if (!hasPromtool && process.env.CI) throw new Error('promtool is missing: apt-get install prometheus (CI must run these checks)');

const promtool = (...args: string[]) => run('promtool', args, { cwd: DIR });

describe.skipIf(!hasPromtool)('deploy/prometheus (promtool; apt-get install prometheus to run)', () => {
  it('is a valid Prometheus config with valid rules', async () => {
    await expect(promtool('check', 'config', 'prometheus.yml')).resolves.toMatchObject({ stdout: expect.stringContaining('SUCCESS') });
    await expect(promtool('check', 'rules', 'alerts.yml')).resolves.toMatchObject({ stdout: expect.stringContaining('SUCCESS') });
  });

  it('unit-tests every alert it defines', async () => {
    const { stdout } = await promtool('test', 'rules', 'alerts.test.yml');
    expect(stdout).toContain('SUCCESS');
    const rules = [...(await readFile(`${DIR}alerts.yml`, 'utf8')).matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);
    const tested = new Set([...(await readFile(`${DIR}alerts.test.yml`, 'utf8')).matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    expect(rules.length).toBeGreaterThan(0);
    expect(rules.filter((r) => !tested.has(r))).toEqual([]);
  });
});
