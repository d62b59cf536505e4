// `npm run demo` as a user runs it: a child process against a running system, its stdout a pipe
// (so the plain progress lines, not bars), ending with the summary and the audit's verdict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createTestContext, type TestContext } from './support/context.ts';
import { freePort, startNode, type Child } from './support/processes.ts';
import { startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let system: RunningSystem | undefined;
const children: Child[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await system?.stop();
  await ctx?.cleanup();
});

async function runDemo(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = startNode('src/demo/cli.ts', ctx.env, args);
  children.push(child);
  const { code } = await child.exited;
  return { code, output: child.output() };
}

async function withSystem<T>(env: Record<string, string>, body: (s: RunningSystem) => Promise<T>): Promise<T> {
  system = await startSystem(ctx, ['api', 'relay', 'workers'], loadConfig({ ...ctx.env, ...env }));
  try {
    return await body(system);
  } finally {
    await system.stop();
    system = undefined;
  }
}

describe('npm run demo', () => {
  it('places the orders, shows their progress, and ends with a summary and a clean audit', async () => {
    const { code, output } = await withSystem({}, (s) => runDemo(['--url', s.url, '--orders', '30', '--rate', '100', '--seed', '11']));
    expect(output, output).toMatch(/^\[ +\d+\.\ds\] created \d+\/30 +paid \d+/m);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point: no terminal escape codes in a pipe
    expect(output).not.toMatch(/\x1b\[/);
    expect(output).toMatch(/orders placed +30 of 30/);
    expect(output).toMatch(/\n {2}delivered +30\n/);
    expect(output).toMatch(/\n {2}invoiced +30\n/);
    expect(output).toMatch(/\n {2}not settled +0\n/);
    expect(output).toContain('0 lost, 0 duplicated, 0 unexpected');
    expect(output).toContain('All 30 orders reached a final state and the audit is OK.');
    expect(output).not.toContain('admin/queues');
    expect(code).toBe(0);
  });

  it('reports declined orders as failed and shows where to see their jobs; declines are no violation', async () => {
    // Every tenth order of the mix is a party order over $100: at least 3 of 30 are declined.
    const { code, output, url } = await withSystem({ GATEWAY_DECLINE_OVER_CENTS: '10000' }, async (s) => ({
      ...(await runDemo(['--url', s.url, '--orders', '30', '--rate', '100', '--seed', '12'])),
      url: s.url,
    }));
    const failed = Number(/\n {2}failed +(\d+) \((\d+) payment failed/.exec(output)?.[1]);
    expect(failed, output).toBeGreaterThanOrEqual(3);
    expect(output).toMatch(new RegExp(`\\n {2}delivered +${30 - failed}\\n`));
    expect(output).toMatch(new RegExp(`payments +30 +0 +${failed}\\n`));
    expect(output).toContain(`${url}/admin/queues/queue/payments?status=failed`);
    expect(output).toContain('ADMIN_PASSWORD');
    expect(output).toMatch(new RegExp(`0 lost, 0 duplicated, 0 unexpected, ${failed} stuck, \\d+ recovered — OK`));
    expect(code).toBe(0);
  });

  it('exits 2 with what to do when the service is not answering', async () => {
    const { code, output } = await runDemo(['--url', `http://127.0.0.1:${await freePort()}`, '--orders', '1']);
    expect(output).toMatch(/^demo: the service at http:\/\/127\.0\.0\.1:\d+ is not answering \(ECONNREFUSED\): start it with npm start/m);
    expect(code).toBe(2);
  });
});
