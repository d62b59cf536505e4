// Where the CPU went during a measuring window, in cores (1.0 = one core busy all the time): each
// process of ours, our Postgres backends (the run's databases), Redis, this harness, and the rest
// of the machine (Postgres' background writers, the kernel, and other users' work: the machine is
// shared). Read from /proc; Linux only, and silently empty elsewhere.
import { readdirSync, readFileSync } from 'node:fs';
import type { Sql } from '../../src/db/client.ts';
import { wallNow } from './clock.ts';
import { round } from './stats.ts';

const TICKS_PER_S = 100; // USER_HZ

function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return undefined;
  }
}

function allProcessTicks(): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const p of pids) {
    const t = processTicks(Number(p));
    if (t !== undefined) out.set(Number(p), t);
  }
  return out;
}

function machineBusyTicks(): number {
  try {
    const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const n = v.map(Number);
    return n.slice(0, 8).reduce((s, x) => s + x, 0) - n[3]! - n[4]!; // all but idle and iowait
  } catch {
    return NaN;
  }
}

export type CpuUse = Record<string, number>;

export class CpuMeter {
  private readonly t0 = wallNow();
  private readonly machine0 = machineBusyTicks();
  private readonly ticks0 = allProcessTicks();

  // `groups`: label → pids. `pg`: our run's databases' backends are looked up at the end of the
  // window (pools open connections lazily) and counted from the start of it.
  async stop(groups: Record<string, number[]>, pg?: { sql: Sql; runId: string }, redisPid?: number): Promise<CpuUse> {
    const seconds = (wallNow() - this.t0) / 1000;
    const machine = machineBusyTicks() - this.machine0;
    const ticks1 = allProcessTicks();
    const all: Record<string, number[]> = { ...groups, harness: [process.pid] };
    if (pg) {
      const rows = await pg.sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname LIKE ${`outbox_bench_${pg.runId}_%`}`;
      all['postgres (our backends)'] = rows.map((r) => r.pid);
    }
    if (redisPid) all.redis = [redisPid];
    const cores = (ticks: number) => round(ticks / TICKS_PER_S / seconds, 2);
    const use: CpuUse = {};
    let ours = 0;
    for (const [label, pids] of Object.entries(all)) {
      const t = pids.reduce((s, pid) => s + Math.max(0, (ticks1.get(pid) ?? 0) - (this.ticks0.get(pid) ?? 0)), 0);
      use[label] = cores(t);
      ours += t;
    }
    use['machine busy'] = cores(machine);
    use['rest of machine'] = cores(Math.max(0, machine - ours));
    return use;
  }
}

// Starts a window; its stop() says where the CPU went.
export type CpuProbe = () => { stop(): Promise<CpuUse> };

export async function redisPid(info: () => Promise<string>): Promise<number | undefined> {
  const pid = Number(/process_id:(\d+)/.exec(await info())?.[1]);
  return Number.isFinite(pid) ? pid : undefined;
}
