// Child processes for tests: started with the test's env, always killed at the end by pid.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inject } from 'vitest';

export interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

// A script of the service (src/…/*.ts) runs compiled, from this run's build (see build.ts), on
// plain node as in production. A helper script of the tests (test/…) runs with tsx's loader in the
// node process itself, not the tsx CLI: the CLI runs the script in a second node process, so a
// SIGKILL meant for the script would only kill the CLI and orphan the script.
const TSX_LOADER = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const ROOT = new URL('../../', import.meta.url).pathname;

// The build's file for a source of the service; for anything else, undefined.
export function compiledScript(script: string): string | undefined {
  const source = /^src\/(.+)\.ts$/.exec(script);
  return source ? join(inject('buildDir'), 'dist', `${source[1]}.js`) : undefined;
}

// The environment every process of a test starts from: nothing of the test runner's own.
export function baseEnv(env: Record<string, string>): Record<string, string> {
  // Rate limits off unless the env turns them on: test processes place orders faster than a customer.
  // A long keep-alive: see HTTP_KEEPALIVE_TIMEOUT_MS in ./context.ts.
  return {
    PATH: process.env.PATH ?? '',
    LOG_FORMAT: 'json',
    ORDER_RATE_LIMIT_PER_MINUTE: '0',
    LIST_RATE_LIMIT_PER_MINUTE: '0',
    AUTH_RATE_LIMIT_PER_MINUTE: '0',
    HTTP_KEEPALIVE_TIMEOUT_MS: '65000',
    ...env,
  };
}

export function startNode(script: string, env: Record<string, string>, args: string[] = []): Child {
  const compiled = compiledScript(script);
  const proc = spawn(process.execPath, [...(compiled ? [compiled] : ['--import', TSX_LOADER, script]), ...args], {
    cwd: ROOT,
    env: baseEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return wrap(proc);
}

// `options` for what a command needs beyond stdio, e.g. `uid`/`gid` to run a server as its own user.
export function startCommand(command: string, args: string[], options: Omit<SpawnOptions, 'stdio'> = {}): Child {
  return wrap(spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }));
}

export function wrap(proc: ChildProcess): Child {
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    output: () => out,
    exited,
    kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  };
}

// A port for a server a test starts (a role's HTTP or metrics port, a private Redis, Postgres or
// cluster node, which may be stopped and started again on it). Never from the kernel's ephemeral
// range (32768+ on Linux): between our check and the child's listen, the kernel could hand such a
// port to an outgoing connection (every process here opens dozens to Postgres and Redis), and the
// child died with EADDRINUSE or, for a metrics port, fell back to another and was never found.
// Below that range, chosen at random and checked free, only two servers of tests could ever meet.
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}
