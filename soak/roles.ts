// The service's roles as OS processes, run from a snapshot of dist/ taken at the start of the run
// (built first if stale), so a rebuild by someone else in the checkout during an hour-long soak
// cannot change the code a restarted role runs. The snapshot mirrors the package root as the
// tests' build does (test/support/build.ts): dist/ copied, node_modules, sql, package.json and .git
// linked. Each role answers on its port when it is ready (the API's /health/live, the /metrics of
// a relay or worker). Supervised like an orchestrator would: a role that dies without being asked
// to is started again at once and counted as an unexpected exit.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type Proc, sleep, spawnLogged, until } from './proc.ts';
import type { RunDir } from './servers.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
// Preloaded into every role: it stops itself when the harness goes away, even killed outright.
const GUARD = join(ROOT, 'bench/lib/orphan-guard.mjs');

export function snapshotApp(runDir: RunDir): string {
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  const app = join(runDir.dir, 'app');
  mkdirSync(app, { recursive: true });
  cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
  for (const name of ['node_modules', 'sql', 'package.json', '.git']) if (existsSync(join(ROOT, name))) symlinkSync(join(ROOT, name), join(app, name));
  return app;
}

export type RoleKind = 'api' | 'relay' | 'worker';
const SCRIPTS: Record<RoleKind, string> = { api: 'dist/api/main.js', relay: 'dist/relay/main.js', worker: 'dist/workers/main.js' };

export interface UnexpectedExit {
  at: string;
  incarnation: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Shutdown {
  code: number | null;
  signal: string | null;
  graceful: boolean; // exited 0 within the grace period
}

export interface RoleContext {
  app: string;
  runDir: RunDir;
  env: Record<string, string>;
}

export class Role {
  incarnation = 0;
  readonly unexpectedExits: UnexpectedExit[] = [];
  private proc: Proc | undefined;
  private expected = false;
  private closed = false;

  constructor(
    readonly name: string,
    readonly kind: RoleKind,
    readonly port: number,
    private readonly ctx: RoleContext,
  ) {}

  get pid(): number | undefined {
    return this.proc?.alive() ? this.proc.pid : undefined;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.launch();
    await this.waitReady();
  }

  async answers(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}${this.kind === 'api' ? '/health/live' : '/metrics'}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    if (!(await until(async () => this.proc?.alive() === true && (await this.answers()), timeoutMs, 200))) {
      throw new Error(`${this.name} did not answer on port ${this.port} within ${timeoutMs} ms (see ${this.ctx.runDir.log(this.name)})`);
    }
  }

  // kill -9, then started again at once (as an orchestrator would) and waited for.
  async kill9(): Promise<{ oldPid: number; newPid: number | undefined; signal: string | null; downMs: number }> {
    const proc = this.proc!;
    this.expected = true;
    const t0 = Date.now();
    proc.kill('SIGKILL');
    const exit = await proc.exited;
    this.expected = false;
    this.launch();
    await this.waitReady();
    return { oldPid: proc.pid, newPid: this.pid, signal: exit.signal, downMs: Date.now() - t0 };
  }

  // SIGTERM (a graceful stop), SIGKILL after `graceMs`; no restart.
  async stop(graceMs = 10_000): Promise<Shutdown> {
    this.closed = true;
    const proc = this.proc;
    if (!proc?.alive()) return { code: proc?.proc.exitCode ?? null, signal: proc?.proc.signalCode ?? null, graceful: false };
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const exited = await Promise.race([proc.exited, sleep(graceMs).then(() => undefined)]);
    if (exited) return { ...exited, graceful: exited.code === 0 };
    proc.kill('SIGKILL');
    const exit = await proc.exited;
    return { ...exit, graceful: false };
  }

  private launch(): void {
    this.incarnation++;
    const portVar = this.kind === 'api' ? 'PORT' : 'METRICS_PORT';
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...this.ctx.env, [portVar]: String(this.port) };
    const proc = spawnLogged(process.execPath, ['--import', GUARD, SCRIPTS[this.kind]], this.ctx.runDir.log(this.name), { cwd: this.ctx.app, env, ipc: true });
    this.proc = proc;
    this.ctx.runDir.recordPid(proc.pid);
    const incarnation = this.incarnation;
    void proc.exited.then((exit) => {
      if (this.expected || this.closed || this.proc !== proc) return;
      this.unexpectedExits.push({ at: new Date().toISOString(), incarnation, ...exit });
      // Straight back, like a supervisor, after a short pause.
      setTimeout(() => {
        if (!this.closed && this.proc === proc) this.launch();
      }, 500).unref();
    });
  }
}

export interface Roles {
  all: Role[];
  of(kind: RoleKind): Role[];
  apiUrls(): string[];
}

export async function startRoles(ctx: RoleContext, counts: Record<RoleKind, number>): Promise<Roles> {
  const all: Role[] = [];
  for (const kind of ['api', 'relay', 'worker'] as const) {
    for (let i = 1; i <= counts[kind]; i++) all.push(new Role(`${kind}-${i}`, kind, await freePort(), ctx));
  }
  // Started in parallel: each start costs about a second of CPU.
  await Promise.all(all.map((r) => r.start()));
  return {
    all,
    of: (kind) => all.filter((r) => r.kind === kind),
    apiUrls: () => all.filter((r) => r.kind === 'api').map((r) => r.url),
  };
}
