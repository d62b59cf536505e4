// Guarantee 7 under `npm start`: npm is the parent, and it forwards every SIGINT/SIGTERM it gets to
// its child. A Ctrl-C (SIGINT to the terminal's whole process group), a stop sent to npm's pid alone,
// or to the group (as systemd does) each end in one graceful stop: "stopped cleanly", exit 0, never
// "second signal", and no node process left behind as an orphan of npm.
// npm runs in this run's build (test/support/build.ts), which mirrors the package; --ignore-scripts
// skips only the prestart build check, which runs to completion before the service starts.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { baseEnv, wrap, type Child } from './support/processes.ts';

let ctx: TestContext;
const started: Child[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
});

// npm leads a process group of its own, and node stays in it even if orphaned: killing the group
// ends whatever a failed test left running.
afterEach(async () => {
  for (const npm of started.splice(0)) {
    try {
      process.kill(-npm.proc.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    await npm.exited;
  }
});

afterAll(async () => {
  await ctx?.cleanup();
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The pids whose parent is `pid`, from /proc/<pid>/stat (field 4 is the parent, after the name).
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

// npm in a process group of its own (detached), as a shell puts a foreground job in its own group.
async function startNpm(): Promise<{ npm: Child; nodePid: number }> {
  const env = { ...baseEnv(ctx.env), HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', npm_config_update_notifier: 'false' };
  const proc = spawn('npm', ['start', '--ignore-scripts'], { cwd: inject('buildDir'), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const npm = wrap(proc);
  started.push(npm);
  await waitFor('the service to start under npm', () => npm.output().includes('"msg":"started"'), 40_000);
  const [nodePid] = childrenOf(proc.pid!);
  // The script execs node: npm's child is the service itself, not a shell that would swallow the signal.
  expect(readFileSync(`/proc/${nodePid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual(['node', 'dist/main.js']);
  return { npm, nodePid: nodePid! };
}

describe('npm start', () => {
  it.each([
    ['SIGINT', 'the process group (Ctrl-C in a terminal)'],
    ['SIGINT', "npm's pid"],
    ['SIGTERM', "npm's pid"],
    ['SIGTERM', 'the process group (systemd)'],
  ] as const)('stops gracefully on one %s to %s, leaving no process behind', async (signal, target) => {
    const { npm, nodePid } = await startNpm();
    process.kill(target.startsWith('the process group') ? -npm.proc.pid! : npm.proc.pid!, signal);
    const exit = await npm.exited;
    expect(npm.output()).toContain('"msg":"stopped cleanly"');
    expect(npm.output()).not.toContain('second signal');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(isAlive(nodePid)).toBe(false);
  });
});
