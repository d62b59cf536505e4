// Child processes of the soak: each one OS process (no wrapper), its output appended to a log file
// of the run (nothing is kept in the harness's memory over an hour), ended by pid. Every live
// child is SIGKILLed when the harness exits, whatever the reason.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  pid: number;
  proc: ChildProcess;
  exited: Promise<Exit>;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): void;
}

const live = new Set<Proc>();

export function spawnLogged(command: string, args: string[], logFile: string, options: Omit<SpawnOptions, 'stdio'> & { ipc?: boolean } = {}): Proc {
  const fd = openSync(logFile, 'a');
  const { ipc, ...rest } = options;
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { ...rest, stdio: ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd] });
  } finally {
    closeSync(fd); // the child has its own copy
  }
  if (proc.pid === undefined) throw new Error(`could not start ${command}`);
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.on('error', () => {}); // e.g. an IPC send to a process that just died
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const child: Proc = {
    pid: proc.pid,
    proc,
    exited,
    alive,
    kill(signal = 'SIGKILL') {
      if (alive()) proc.kill(signal);
    },
  };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

// Last resort when the harness exits: SIGKILL by pid, synchronously (SIGCONT first: a frozen one).
export function killAllNow(): void {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGCONT');
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// VmRSS of a process in MB, or undefined when it is gone.
export function rssMb(pid: number): number | undefined {
  try {
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 102.4) / 10 : undefined;
  } catch {
    return undefined;
  }
}

// The one-letter state of a process (R, S, T for stopped, …), or undefined when it is gone.
export function procState(pid: number): string | undefined {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A port below the kernel's ephemeral range (see test/support/processes.ts for why), checked free.
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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Polls `check` until it returns true; false once `timeoutMs` passed.
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
