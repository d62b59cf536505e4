// The roles of one fault test as OS processes (start:api, start:relay, start:worker), each with its
// own port: the HTTP port of an api, the metrics port of a relay or worker (answering /metrics is
// how a relay or worker shows it has started, whatever its log level).
//
// The cluster supervises them like an orchestrator would: a process that dies without being asked
// to (a FAULT_INJECTION crash point, a kill -9) is started again at once with the same env, so
// crashes keep coming; after `maxCrashes` deaths, or once calmDown() was called, it comes back
// without FAULT_INJECTION so the run converges. close() kills everything, whatever happened.
import { waitFor } from '../../support/context.ts';
import { freePort, startNode, type Child } from '../../support/processes.ts';
import { track } from './tracked.ts';

export type RoleName = 'api' | 'relay' | 'worker';

const SCRIPTS: Record<RoleName, string> = { api: 'src/api/main.ts', relay: 'src/relay/main.ts', worker: 'src/workers/main.ts' };

export interface ExitRecord {
  code: number | null;
  signal: NodeJS.Signals | null;
  // true when the test asked for it (SIGTERM, close); false for a crash or a kill -9.
  intended: boolean;
  // How long the process had run.
  ranMs: number;
}

export class RoleProcess {
  readonly children: Child[] = [];
  readonly exits: ExitRecord[] = [];
  stopping = false;
  startedAt = 0;

  constructor(
    readonly name: string,
    readonly role: RoleName,
    readonly port: number,
    public env: Record<string, string>,
  ) {}

  get child(): Child {
    return this.children[this.children.length - 1]!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  // Deaths the test did not ask for: crash points and kill -9.
  get crashes(): number {
    return this.exits.filter((e) => !e.intended).length;
  }

  alive(): boolean {
    const proc = this.child?.proc;
    return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  }

  // The output of every incarnation, oldest first.
  output(): string {
    return this.children.map((c) => c.output()).join('');
  }

  // Answers on its port: the API's liveness route, or the metrics of a relay or worker.
  async answers(): Promise<boolean> {
    const path = this.role === 'api' ? '/health/live' : '/metrics';
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }
}

export interface ClusterOptions {
  // After this many crashes a process is restarted without FAULT_INJECTION. Default: never.
  maxCrashes?: number;
}

export class RoleCluster {
  readonly procs: RoleProcess[] = [];
  private calm = false;
  private closed = false;
  private seq = 0;

  constructor(
    private readonly baseEnv: Record<string, string>,
    private readonly opts: ClusterOptions = {},
  ) {}

  // Starts one process of `role` and (unless wait is false) waits until it answers on its port.
  async start(role: RoleName, extra: Record<string, string> = {}, { wait = true } = {}): Promise<RoleProcess> {
    const port = await freePort();
    const env = { ...this.baseEnv, ...extra, ...(role === 'api' ? { PORT: String(port) } : { METRICS_PORT: String(port) }) };
    const p = new RoleProcess(`${role}#${++this.seq}`, role, port, env);
    this.procs.push(p);
    this.launch(p);
    if (wait) await this.waitReady(p);
    return p;
  }

  // Several at once, started in parallel (each start costs about a second of CPU).
  async startMany(specs: Array<[RoleName, Record<string, string>?]>): Promise<RoleProcess[]> {
    const procs = await Promise.all(specs.map(([role, extra]) => this.start(role, extra ?? {}, { wait: false })));
    await Promise.all(procs.map((p) => this.waitReady(p)));
    return procs;
  }

  of(role: RoleName): RoleProcess[] {
    return this.procs.filter((p) => p.role === role);
  }

  apiUrls(): string[] {
    return this.of('api').map((p) => p.url);
  }

  crashes(role?: RoleName): number {
    return this.procs.filter((p) => !role || p.role === role).reduce((n, p) => n + p.crashes, 0);
  }

  // On failure the message ends with the process's last log lines: they say why it did not answer.
  async waitReady(p: RoleProcess, timeoutMs = 30_000): Promise<void> {
    try {
      await waitFor(
        `${p.name} to answer on port ${p.port}`,
        async () => {
          if (p.stopping && !p.alive()) throw new Error(`${p.name} exited`);
          return p.alive() && (await p.answers());
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- last output of ${p.name} ---\n${p.output().slice(-2000)}`);
    }
  }

  async waitAllReady(timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.procs.filter((p) => !p.stopping).map((p) => this.waitReady(p, timeoutMs)));
  }

  // From now on every restart comes back without FAULT_INJECTION.
  calmDown(): void {
    this.calm = true;
  }

  // kill -9 from outside; the supervisor starts the process again (it counts as a crash).
  kill9(p: RoleProcess): void {
    p.child.kill('SIGKILL');
  }

  // SIGTERM (twice if asked, the second once `secondAfter` shows in the output) and the exit.
  async sigterm(p: RoleProcess, opts: { secondAfter?: string; timeoutMs?: number } = {}): Promise<ExitRecord & { ms: number }> {
    p.stopping = true;
    const child = p.child;
    const sent = Date.now();
    child.kill('SIGTERM');
    if (opts.secondAfter !== undefined) {
      const marker = opts.secondAfter;
      await waitFor(`${p.name} to log "${marker}"`, () => child.output().includes(marker) || !p.alive(), 10_000);
      child.kill('SIGTERM');
    }
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const exit = await Promise.race([
      child.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${p.name} did not exit within ${timeoutMs} ms of SIGTERM`)), timeoutMs).unref()),
    ]);
    return { ...exit, intended: true, ranMs: sent - p.startedAt, ms: Date.now() - sent };
  }

  // SIGTERM to every running process at once; each process whose exit was not 0 (a grace period
  // run out, an error while stopping), described with its last output, for the failure message.
  async sigtermAllUnclean(): Promise<string[]> {
    const running = this.procs.filter((p) => p.alive());
    const exits = await Promise.all(running.map(async (p) => ({ p, exit: await this.sigterm(p) })));
    return exits.filter(({ exit }) => exit.code !== 0).map(({ p, exit }) => `${p.name} exited ${exit.signal ?? exit.code} after ${exit.ms} ms:\n${p.output().slice(-1500)}`);
  }

  // Starts a stopped (or running: it is killed first) process again, optionally with other env.
  async restart(p: RoleProcess, extra: Record<string, string> = {}, { wait = true } = {}): Promise<void> {
    if (p.alive()) {
      p.stopping = true;
      p.child.kill('SIGKILL');
      await p.child.exited;
    }
    p.env = { ...p.env, ...extra };
    p.stopping = false;
    this.launch(p);
    if (wait) await this.waitReady(p);
  }

  // Kills every process (SIGKILL) and waits for the exits; no restarts after this.
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.procs) {
      p.stopping = true;
      p.child?.kill('SIGKILL');
    }
    await Promise.all(this.procs.map((p) => p.child?.exited));
  }

  // One line per process for a failure message: restarts, exits, the end of its output.
  describe(): string {
    return this.procs
      .map(
        (p) =>
          `${p.name} (port ${p.port}) starts=${p.children.length} crashes=${p.crashes} exits=${JSON.stringify(p.exits.map((e) => e.signal ?? e.code))}\n${p.output().slice(-1500)}`,
      )
      .join('\n');
  }

  private launch(p: RoleProcess): void {
    const env = { ...p.env };
    if (this.calm || p.crashes >= (this.opts.maxCrashes ?? Infinity)) delete env.FAULT_INJECTION;
    const child = track(startNode(SCRIPTS[p.role], env));
    p.children.push(child);
    p.startedAt = Date.now();
    const startedAt = p.startedAt;
    void child.exited.then((exit) => {
      const intended = p.stopping || this.closed;
      p.exits.push({ ...exit, intended, ranMs: Date.now() - startedAt });
      if (intended) return;
      // Straight back, like a supervisor; after a short pause if it died while starting.
      const pause = Date.now() - startedAt < 1000 ? 300 : 0;
      setTimeout(() => {
        if (!this.closed && !p.stopping && p.child === child) this.launch(p);
      }, pause).unref();
    });
  }
}
