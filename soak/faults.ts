// The fault schedule: one fault every `everySec`, round-robin over the kinds, each recorded with
// its time, what was done and whether it really happened (checked, not assumed):
//
//   kill-worker       kill -9 of a worker (alternating), restarted at once: it died of SIGKILL and a new process answers
//   kill-relay        the same for a relay
//   freeze-worker     SIGSTOP of a worker past its lock (lock + 2 stalled checks + 2 s), then SIGCONT:
//                     the process was seen stopped (state T), and running again after; the jobs the
//                     other worker took over as stalled are counted from the queues' event streams
//   restart-redis     kill -9 of the private redis-server, 3 s down, started again on its AOF: it
//                     refused connections while down, a new pid answers, its keys came back
//   restart-postgres  immediate stop (SIGQUIT, a crash) of the private Postgres, 3 s down, started
//                     again: pg_postmaster_start_time() changed
//   redis-oom         CONFIG SET maxmemory 1 for 5 s, then 0: a probe write was refused with OOM
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { QUEUE_NAMES } from '../src/orders/topology.ts';
import type { OrderDriver } from './driver.ts';
import { LOCK_DURATION_MS, STALLED_INTERVAL_MS } from './options.ts';
import { procState, sleep } from './proc.ts';
import type { Role, Roles } from './roles.ts';
import type { PrivatePostgres, PrivateRedis } from './servers.ts';

export const FAULT_KINDS = ['kill-worker', 'kill-relay', 'freeze-worker', 'restart-redis', 'restart-postgres', 'redis-oom'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const FREEZE_MS = LOCK_DURATION_MS + 2 * STALLED_INTERVAL_MS + 2000;
const SERVER_DOWN_MS = 3000;
const OOM_MS = 5000;

export interface FaultRecord {
  n: number;
  kind: FaultKind;
  at: string;
  t: number; // seconds since the load started
  ms: number; // how long the fault took, recovery included
  happened: boolean;
  detail: Record<string, unknown>;
  error?: string;
  // API answers during the fault.
  api: { answered503: number; networkErrors: number };
}

export interface FaultContext {
  roles: Roles;
  redis: PrivateRedis;
  pg: PrivatePostgres;
  harnessRedis: Redis;
  sql: Sql;
  prefix: string;
  driver: OrderDriver;
  t0: number;
}

type Outcome = { happened: boolean; detail: Record<string, unknown> };

async function kill(role: Role): Promise<Outcome> {
  const r = await role.kill9();
  return { happened: r.signal === 'SIGKILL' && r.newPid !== undefined && r.newPid !== r.oldPid, detail: { role: role.name, ...r } };
}

// Jobs BullMQ moved back to wait as stalled since `sinceMs`, across the queues.
async function stalledSince(redis: Redis, prefix: string, sinceMs: number): Promise<number> {
  let n = 0;
  for (const q of QUEUE_NAMES) {
    const entries = await redis.xrange(`${prefix}:${q}:events`, `${sinceMs}-0`, '+', 'COUNT', 100_000);
    n += entries.filter(([, fields]) => fields[0] === 'event' && fields[1] === 'stalled').length;
  }
  return n;
}

async function freeze(ctx: FaultContext, role: Role): Promise<Outcome> {
  const pid = role.pid;
  if (pid === undefined) return { happened: false, detail: { role: role.name, why: 'not running' } };
  const t0 = Date.now();
  process.kill(pid, 'SIGSTOP');
  let stateDuring: string | undefined;
  try {
    await sleep(300);
    stateDuring = procState(pid);
    await sleep(FREEZE_MS - 300);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await sleep(1000);
  const stateAfter = procState(pid);
  const stalled = await stalledSince(ctx.harnessRedis, ctx.prefix, t0).catch(() => null);
  return {
    happened: stateDuring === 'T' && stateAfter !== undefined && stateAfter !== 'T',
    detail: { role: role.name, pid, frozenMs: FREEZE_MS, stateDuring, stateAfter, stalledJobsTakenOver: stalled },
  };
}

async function restartRedis(ctx: FaultContext): Promise<Outcome> {
  const keysBefore = Number(await ctx.redis.cli('dbsize'));
  const pidBefore = ctx.redis.pid();
  await ctx.redis.kill();
  const refused = (await ctx.redis.cli('ping').catch(() => '')) !== 'PONG';
  await sleep(SERVER_DOWN_MS);
  const t0 = Date.now();
  await ctx.redis.start();
  const loadMs = Date.now() - t0; // until PONG: the AOF replayed
  const pidAfter = ctx.redis.pid();
  // Fewer than before is expected: the first jobs completed after the outage remove every job
  // that aged past JOB_KEEP_COMPLETED_S meanwhile. None at all would mean the AOF was not read.
  const keysAfter = Number(await ctx.redis.cli('dbsize'));
  return {
    happened: refused && pidAfter !== undefined && pidAfter !== pidBefore && keysAfter > 0,
    detail: { pidBefore, pidAfter, refusedWhileDown: refused, downMs: SERVER_DOWN_MS, loadMs, keysBefore, keysAfter },
  };
}

async function restartPostgres(ctx: FaultContext): Promise<Outcome> {
  const startTime = async () => String((await ctx.sql<{ t: Date }[]>`SELECT pg_postmaster_start_time() AS t`)[0]!.t.toISOString());
  const before = await startTime();
  const pidBefore = ctx.pg.pid();
  await ctx.pg.stop('immediate');
  await sleep(SERVER_DOWN_MS);
  await ctx.pg.start();
  const after = await startTime().catch(async () => {
    await sleep(1000); // the harness pool's connection died with the server: once more on a new one
    return startTime();
  });
  return { happened: after !== before, detail: { pidBefore, pidAfter: ctx.pg.pid(), startedBefore: before, startedAfter: after, downMs: SERVER_DOWN_MS } };
}

async function redisOom(ctx: FaultContext): Promise<Outcome> {
  let probe = '';
  try {
    await ctx.redis.cli('config', 'set', 'maxmemory', '1');
    probe = await ctx.redis.cli('set', 'soak-oom-probe', 'x');
    await sleep(OOM_MS);
  } finally {
    await ctx.redis.cli('config', 'set', 'maxmemory', '0');
  }
  const after = await ctx.redis.cli('set', 'soak-oom-probe', 'x');
  await ctx.redis.cli('del', 'soak-oom-probe');
  return { happened: /^OOM /.test(probe) && after === 'OK', detail: { fullMs: OOM_MS, probeWhileFull: probe.slice(0, 60), probeAfter: after } };
}

function inject(ctx: FaultContext, kind: FaultKind, occurrence: number): Promise<Outcome> {
  const pick = (roles: Role[]) => roles[occurrence % roles.length]!;
  switch (kind) {
    case 'kill-worker':
      return kill(pick(ctx.roles.of('worker')));
    case 'kill-relay':
      return kill(pick(ctx.roles.of('relay')));
    case 'freeze-worker':
      return freeze(ctx, pick(ctx.roles.of('worker')));
    case 'restart-redis':
      return restartRedis(ctx);
    case 'restart-postgres':
      return restartPostgres(ctx);
    case 'redis-oom':
      return redisOom(ctx);
  }
}

export async function runFault(ctx: FaultContext, n: number): Promise<FaultRecord> {
  const kind = FAULT_KINDS[n % FAULT_KINDS.length]!;
  const occurrence = Math.floor(n / FAULT_KINDS.length);
  const started = Date.now();
  const before = { ...ctx.driver.counts.attempts };
  let outcome: Outcome;
  let error: string | undefined;
  try {
    outcome = await inject(ctx, kind, occurrence);
  } catch (err) {
    error = (err as Error).message;
    outcome = { happened: false, detail: {} };
  }
  const delta = (key: string) => (ctx.driver.counts.attempts[key] ?? 0) - (before[key] ?? 0);
  return {
    n: n + 1,
    kind,
    at: new Date(started).toISOString(),
    t: Math.round((started - ctx.t0) / 100) / 10,
    ms: Date.now() - started,
    ...outcome,
    ...(error ? { error } : {}),
    api: { answered503: delta('503'), networkErrors: delta('error') },
  };
}

// Runs the schedule until stopped: fault n at t0 + n × everySec (or as soon as the previous one has
// recovered), none started after `lastStartSec`.
export function startFaults(ctx: FaultContext, everySec: number, lastStartSec: number, onFault: (f: FaultRecord) => void) {
  const records: FaultRecord[] = [];
  let current: FaultKind | null = null;
  let stopped = false;
  let wake: () => void = () => {};
  const done = (async () => {
    if (everySec <= 0) return;
    for (let n = 0; ; n++) {
      const due = ctx.t0 + (n + 1) * everySec * 1000;
      if (due - ctx.t0 > lastStartSec * 1000) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, due - Date.now())).unref();
      });
      if (stopped || Date.now() - ctx.t0 > lastStartSec * 1000) return;
      current = FAULT_KINDS[n % FAULT_KINDS.length]!;
      const record = await runFault(ctx, n);
      current = null;
      records.push(record);
      onFault(record);
    }
  })();
  return {
    records,
    current: () => current,
    async stop() {
      stopped = true;
      wake();
      await done;
    },
  };
}

export function describeFault(f: FaultRecord): string {
  const d = Object.entries(f.detail)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `fault #${f.n} ${f.kind} at load+${f.t}s (${(f.ms / 1000).toFixed(1)} s): ${f.happened ? 'happened' : 'NOT VERIFIED'}; ${d}${f.error ? ` error=${f.error}` : ''}; API meanwhile 503×${f.api.answered503}, network errors×${f.api.networkErrors}`;
}
