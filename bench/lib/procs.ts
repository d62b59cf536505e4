// The processes of a run: the project's roles (src/*/main.ts) and the harness's own helpers, each
// one node process (no wrapper process), so its pid is the process to measure and to kill. A role
// runs compiled from dist/ on plain node, as `npm start` and the image run it; a helper runs its
// TypeScript with tsx's loader. Every child is stopped by pid, SIGTERM then SIGKILL, whatever
// happens to the run.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { wallNow } from './clock.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const GUARD = new URL('./orphan-guard.mjs', import.meta.url).pathname;

let built = false;
// The node arguments that run `script`: a source of the project (src/…/*.ts) from dist/, built
// first if a source changed since the last build (once per run); anything else through tsx.
function scriptArgs(script: string): string[] {
  const source = /^src\/(.+)\.ts$/.exec(script);
  if (!source) return ['--import', 'tsx', script];
  if (!built) {
    execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
    built = true;
  }
  return [`dist/${source[1]}.js`];
}

export interface Rss {
  rssMb: number;
  peakMb: number; // VmHWM: the process's peak resident set so far
}

export interface Child {
  name: string;
  role: string;
  pid: number;
  proc: ChildProcess;
  output(): string;
  exited: Promise<void>;
  onMessage(fn: (msg: unknown) => void): void;
  send(msg: unknown): void;
  rss(): Rss | undefined;
  stop(graceMs?: number): Promise<Rss | undefined>;
}

const live = new Set<Child>();
// The highest peak RSS seen per role over the whole run.
export const peakRssByRole: Record<string, number> = {};

export function readRss(pid: number): Rss | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: Math.round(kb('VmRSS') / 102.4) / 10, peakMb: Math.round(kb('VmHWM') / 102.4) / 10 };
  } catch {
    return undefined;
  }
}

// `role` groups processes for the peak-RSS table (api, relay, workers, …).
export function startProcess(role: string, script: string, env: Record<string, string>, name = role): Child {
  const proc = spawn(process.execPath, ['--expose-gc', '--import', GUARD, ...scriptArgs(script)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const child: Child = {
    name,
    role,
    pid: proc.pid!,
    proc,
    output: () => out,
    exited,
    onMessage: (fn) => void proc.on('message', fn),
    send: (msg) => {
      if (running() && proc.connected) proc.send(msg as never);
    },
    rss: () => readRss(proc.pid!),
    async stop(graceMs = 8000) {
      const rss = child.rss();
      if (rss) peakRssByRole[role] = Math.max(peakRssByRole[role] ?? 0, rss.peakMb);
      if (running()) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => running() && proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      live.delete(child);
      return rss;
    },
  };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

// A project role (src/api/main.ts, …) is ready when it logs "started" (LOG_LEVEL=info: no role
// logs at info on a hot path); a harness helper when it sends {type: 'ready'}.
export async function startRole(role: string, script: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Child> {
  const child = startProcess(role, script, { ...env, LOG_LEVEL: 'info' });
  await waitForReady(child, () => /"msg":"started"/.test(child.output()), timeoutMs);
  return child;
}

export async function startHelper(role: string, script: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Child> {
  const child = startProcess(role, script, env);
  let ready = false;
  child.onMessage((m) => {
    if ((m as { type?: string }).type === 'ready') ready = true;
  });
  await waitForReady(child, () => ready, timeoutMs);
  return child;
}

async function waitForReady(child: Child, isReady: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (!isReady()) {
    if (exited || Date.now() > deadline) {
      await child.stop(1000);
      throw new Error(`${child.name} did not start (${exited ? 'exited' : 'timed out'}):\n${child.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(3000)));
}

// Last resort (process exit): SIGKILL by pid, synchronously.
export function killAllNow(): void {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Memory {
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
}

// A child's memory after two full garbage collections (see orphan-guard.mjs).
export async function memoryAfterGc(child: Child): Promise<Memory | undefined> {
  const reply = await new Promise<Record<string, number> | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 5000);
    const on = (m: unknown) => {
      if ((m as { type?: string }).type !== 'memory') return;
      child.proc.off('message', on);
      clearTimeout(timer);
      resolve(m as Record<string, number>);
    };
    child.proc.on('message', on);
    child.send({ type: 'gc' });
  });
  const mb = (v: number | undefined) => Math.round((v ?? NaN) / 104857.6) / 10;
  return reply && { rssMb: mb(reply.rss), heapUsedMb: mb(reply.heapUsed), externalMb: mb(reply.external) };
}

// A child's memory as it is (no collection): for series sampled while it works.
export async function memoryNow(child: Child, timeoutMs = 1000): Promise<Memory | undefined> {
  const reply = await new Promise<Record<string, number> | undefined>((resolve) => {
    const on = (m: unknown) => {
      if ((m as { type?: string }).type !== 'mem') return;
      child.proc.off('message', on);
      clearTimeout(timer);
      resolve(m as Record<string, number>);
    };
    const timer = setTimeout(() => {
      child.proc.off('message', on);
      resolve(undefined);
    }, timeoutMs);
    child.proc.on('message', on);
    child.send({ type: 'mem' });
  });
  const mb = (v: number | undefined) => Math.round((v ?? NaN) / 104857.6) / 10;
  return reply && { rssMb: mb(reply.rss), heapUsedMb: mb(reply.heapUsed), externalMb: mb(reply.external) };
}

// Offset of a helper's clock from ours (ms, best of 50 ping-pongs): wallNow() in both should agree.
export async function clockOffsetMs(child: Child): Promise<number> {
  let best = { rtt: Infinity, offset: NaN };
  for (let i = 0; i < 50; i++) {
    const t0 = wallNow();
    const tc = await new Promise<number>((resolve) => {
      const on = (m: unknown) => {
        if ((m as { type?: string }).type === 'pong') {
          child.proc.off('message', on);
          resolve((m as { t: number }).t);
        }
      };
      child.proc.on('message', on);
      child.send({ type: 'ping' });
    });
    const t1 = wallNow();
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: tc - (t0 + t1) / 2 };
  }
  return Math.round(best.offset * 1000) / 1000;
}
