// The run's own directory (/tmp/outbox-soak/<run>: the servers' data, the logs, the app snapshot)
// and its private servers: a Postgres cluster (initdb, one postmaster on a free port) and a
// persistent redis-server (AOF, fsync always), so the fault schedule can restart both without
// touching the shared servers other work uses. Adapted from test/faults/support/private-*.ts,
// which import vitest and cannot run here.
//
// A run killed outright (SIGKILL) leaves its servers running (its roles stop themselves, unless
// one was frozen): the next run finds its directory, sees its harness gone, kills the processes
// it recorded (by pid, after checking that the pid still belongs to that directory) and removes
// the directory, unless it was kept with --keep.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { freePort, isRunning, type Proc, sleep, spawnLogged, until } from './proc.ts';

const run = promisify(execFile);
export const RUNS_DIR = '/tmp/outbox-soak';

interface RunState {
  harnessPid: number;
  pids: number[];
  keep: boolean;
}

export class RunDir {
  readonly dir: string;
  readonly logs: string;
  private readonly state: RunState;

  constructor(runId: string, keep: boolean) {
    this.dir = join(RUNS_DIR, runId);
    this.logs = join(this.dir, 'logs');
    this.state = { harnessPid: process.pid, pids: [], keep };
  }

  async create(): Promise<void> {
    await mkdir(this.logs, { recursive: true });
    this.save();
  }

  log(name: string): string {
    return join(this.logs, `${name}.log`);
  }

  recordPid(pid: number): void {
    this.state.pids.push(pid);
    this.save();
  }

  markKept(): void {
    this.state.keep = true;
    this.save();
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private save(): void {
    writeFileSync(join(this.dir, 'state.json'), JSON.stringify(this.state));
  }
}

// A server names the run's directory on its command line; a role runs in the run's app snapshot.
function belongsTo(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) || readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
  } catch {
    return false;
  }
}

// Ends what runs killed outright left behind (see the header). Returns what it did, for the log.
export async function sweepAbandonedRuns(): Promise<string[]> {
  const done: string[] = [];
  for (const name of existsSync(RUNS_DIR) ? readdirSync(RUNS_DIR) : []) {
    const dir = join(RUNS_DIR, name);
    let state: RunState;
    try {
      state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as RunState;
    } catch {
      continue;
    }
    if (isRunning(state.harnessPid)) continue;
    for (const pid of state.pids) {
      if (!belongsTo(pid, dir)) continue; // gone, or the pid now belongs to someone else
      process.kill(pid, 'SIGCONT'); // a role left frozen
      process.kill(pid, 'SIGKILL');
      done.push(`killed process ${pid} of abandoned run ${name}`);
    }
    if (!state.keep) {
      await rm(dir, { recursive: true, force: true });
      done.push(`removed ${dir}`);
    }
  }
  return done;
}

export interface PrivatePostgres {
  port: number;
  url(database: string): string;
  start(): Promise<void>;
  // immediate: SIGQUIT, like a crash (recovery on the next start).
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  pid(): number | undefined;
}

function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no Postgres server under ${root}`);
  return join(root, versions[0]!, 'bin');
}

// Postgres refuses to run as root: then initdb and the server run as the postgres user.
function pgUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function startPrivatePostgres(runDir: RunDir): Promise<PrivatePostgres> {
  const bin = pgBinDir();
  const user = pgUser();
  const port = await freePort();
  const dir = join(runDir.dir, 'pg');
  await mkdir(dir, { recursive: true });
  if (user) await chown(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { ...user });
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
  let server: Proc | undefined;
  const pg: PrivatePostgres = {
    port,
    url,
    pid: () => (server?.alive() ? server.pid : undefined),
    async start() {
      if (server?.alive()) return;
      const started = spawnLogged(join(bin, 'postgres'), args, runDir.log('postgres'), { ...user });
      server = started;
      runDir.recordPid(started.pid);
      const up = await until(async () => {
        if (!started.alive()) return true; // gone: no point waiting
        const probe = postgres(url('postgres'), { max: 1, connect_timeout: 2, onnotice: () => {} });
        try {
          await probe`SELECT 1`;
          return true;
        } finally {
          await probe.end({ timeout: 1 });
        }
      }, 30_000);
      if (!up || !started.alive()) throw new Error(`the private Postgres on ${port} did not start (see ${runDir.log('postgres')})`);
    },
    async stop(mode = 'fast') {
      if (!server?.alive()) return;
      server.kill(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
      const stopped = await Promise.race([server.exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!stopped) {
        server.kill('SIGKILL');
        await server.exited;
      }
    },
  };
  await pg.start();
  return pg;
}

export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  // kill -9: the AOF (fsync always) brings every acknowledged write back on the next start.
  kill(): Promise<void>;
  cli(...args: string[]): Promise<string>;
  pid(): number | undefined;
}

export async function startPrivateRedis(runDir: RunDir): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = join(runDir.dir, 'redis');
  await mkdir(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--maxmemory-policy', 'noeviction', '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];
  const cli = async (...a: string[]) => (await run('redis-cli', ['-p', String(port), ...a], { timeout: 10_000 })).stdout.trim();
  let server: Proc | undefined;
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    cli,
    pid: () => (server?.alive() ? server.pid : undefined),
    async start() {
      if (server?.alive()) return;
      const started = spawnLogged('redis-server', args, runDir.log('redis'));
      server = started;
      runDir.recordPid(started.pid);
      // Answering, and loaded (a big AOF takes a moment): PING says LOADING until then.
      const up = await until(async () => !started.alive() || (await cli('ping')) === 'PONG', 60_000);
      if (!up || !started.alive()) throw new Error(`the private redis-server on ${port} did not start (see ${runDir.log('redis')})`);
      // The one answering must be ours, not a server that took the port meanwhile.
      const pid = /process_id:(\d+)/.exec(await cli('info', 'server'))?.[1];
      if (Number(pid) !== started.pid) throw new Error(`port ${port} is held by another redis-server (pid ${pid})`);
    },
    async kill() {
      if (!server?.alive()) return;
      server.kill('SIGKILL');
      await server.exited;
    },
  };
  await redis.start();
  return redis;
}
