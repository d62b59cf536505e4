// Every few seconds, one sample of the run: the RSS of each role process (VmRSS of its current
// incarnation), the tables retention keeps bounded (outbox, inbox, idempotency keys), Redis's
// memory and the keys under the run's prefix, the jobs still to run, and the client's counts.
// A part that cannot be read (Postgres or Redis restarting) is null in that sample. Each sample
// prints one compact progress line.
import type { Redis } from 'ioredis';
import type { Sql } from 'postgres';
import { FINAL_STATUSES } from '../src/db/orders.ts';
import type { OrderQueues } from '../src/orders/queues.ts';
import { QUEUE_NAMES } from '../src/orders/topology.ts';
import type { DriverCounts, OrderDriver } from './driver.ts';
import { rssMb } from './proc.ts';
import type { Roles } from './roles.ts';

export interface DbSample {
  orders: number;
  notFinal: number;
  outbox: number;
  unpublished: number;
  dead: number;
  unconfirmed: number;
  outboxMb: number;
  inbox: number;
  idempotencyKeys: number;
}

export interface RedisSample {
  usedMemoryMb: number;
  rssMb: number;
  keys: number; // keys under the run's prefix
  pendingJobs: number; // waiting, active, delayed, prioritized, waiting-children
  pendingByQueue: Record<string, number>;
  completedJobs: number;
  failedJobs: number;
}

export interface Sample {
  t: number; // seconds since the load started
  phase: 'load' | 'settle';
  rssMb: Record<string, number | null>;
  incarnation: Record<string, number>;
  harnessRssMb: number;
  db: DbSample | null;
  redis: RedisSample | null;
  api: DriverCounts & { p50Ms: number | null; p99Ms: number | null };
  fault: string | null;
}

export interface SamplerDeps {
  sql: Sql;
  redis: Redis;
  queues: OrderQueues;
  prefix: string;
  roles: Roles;
  driver: OrderDriver;
  t0: number;
  faultNow: () => string | null;
}

const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;

export async function sampleDb(sql: Sql): Promise<DbSample> {
  const [row] = await sql<DbSample[]>`
    SELECT (SELECT count(*) FROM orders)::int AS orders,
      (SELECT count(*) FROM orders WHERE status <> ALL(${FINAL_STATUSES as string[]}))::int AS "notFinal",
      (SELECT count(*) FROM outbox)::int AS outbox,
      (SELECT count(*) FROM outbox WHERE published_at IS NULL AND dead_at IS NULL)::int AS unpublished,
      (SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL)::int AS dead,
      (SELECT count(*) FROM outbox WHERE published_at IS NOT NULL AND confirmed_at IS NULL)::int AS unconfirmed,
      round(pg_total_relation_size('outbox') / 104857.6) / 10 AS "outboxMb",
      (SELECT count(*) FROM processed_messages)::int AS inbox,
      (SELECT count(*) FROM idempotency_keys)::int AS "idempotencyKeys"`;
  return { ...row!, outboxMb: Number(row!.outboxMb) };
}

async function countKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

export async function jobCounts(queues: OrderQueues): Promise<{ pending: number; byQueue: Record<string, number>; completed: number; failed: number }> {
  const out = { pending: 0, byQueue: {} as Record<string, number>, completed: 0, failed: 0 };
  for (const name of QUEUE_NAMES) {
    const c = await queues[name].getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed');
    const pending = (c.active ?? 0) + (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);
    out.byQueue[name] = pending;
    out.pending += pending;
    out.completed += c.completed ?? 0;
    out.failed += c.failed ?? 0;
  }
  return out;
}

async function sampleRedis(redis: Redis, queues: OrderQueues, prefix: string): Promise<RedisSample> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  const jobs = await jobCounts(queues);
  return {
    usedMemoryMb: mb(field('used_memory')),
    rssMb: mb(field('used_memory_rss')),
    keys: await countKeys(redis, prefix),
    pendingJobs: jobs.pending,
    pendingByQueue: jobs.byQueue,
    completedJobs: jobs.completed,
    failedJobs: jobs.failed,
  };
}

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}

export async function takeSample(d: SamplerDeps, phase: Sample['phase']): Promise<Sample> {
  const rss: Record<string, number | null> = {};
  const incarnation: Record<string, number> = {};
  for (const r of d.roles.all) {
    rss[r.name] = r.pid === undefined ? null : (rssMb(r.pid) ?? null);
    incarnation[r.name] = r.incarnation;
  }
  const [db, redis] = await Promise.all([sampleDb(d.sql).catch(() => null), sampleRedis(d.redis, d.queues, d.prefix).catch(() => null)]);
  const lat = d.driver.takeLatencies().sort((a, b) => a - b);
  return {
    t: Math.round((Date.now() - d.t0) / 100) / 10,
    phase,
    rssMb: rss,
    incarnation,
    harnessRssMb: mb(process.memoryUsage().rss),
    db,
    redis,
    api: { ...d.driver.counts, attempts: { ...d.driver.counts.attempts }, errors: { ...d.driver.counts.errors }, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) },
    fault: d.faultNow(),
  };
}

const k = (n: number | undefined) => (n === undefined ? '?' : n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n));

// "load +120s 3.6k ok +300 503:0 err:0 p99 25ms | pend 3 | outbox 9.2k unpub 3 dead 0 | inbox 8.1k | redis 12.3MB 10.2k keys | rss api 95/97 relay 88/90 worker 110/108 | freeze-worker"
export function progressLine(s: Sample, prev: Sample | undefined): string {
  const a = s.api;
  const d = (key: string) => (a.attempts[key] ?? 0) - (prev?.api.attempts[key] ?? 0);
  const byKind = new Map<string, string[]>();
  for (const [name, v] of Object.entries(s.rssMb)) {
    const kind = name.replace(/-\d+$/, '');
    byKind.set(kind, [...(byKind.get(kind) ?? []), v === null ? '-' : String(Math.round(v))]);
  }
  const rss = [...byKind].map(([kind, vs]) => `${kind} ${vs.join('/')}`).join(' ');
  const db = s.db ? `outbox ${k(s.db.outbox)} unpub ${s.db.unpublished} dead ${s.db.dead} | inbox ${k(s.db.inbox)}` : 'postgres: no answer';
  const redis = s.redis ? `pend ${s.redis.pendingJobs} | redis ${s.redis.usedMemoryMb}MB ${k(s.redis.keys)} keys` : 'redis: no answer';
  const api = `${k(a.accepted)} ok +${a.accepted - (prev?.api.accepted ?? 0)} 503:${d('503')} err:${d('error')}${a.gaveUp ? ` gave-up:${a.gaveUp}` : ''} p99 ${a.p99Ms ?? '-'}ms`;
  return `${s.phase} +${s.t.toFixed(0)}s ${api} | ${redis} | ${db} | rss ${rss}${s.fault ? ` | ${s.fault}` : ''}`;
}

// Samples every `everyMs` (the next one after the previous finished) until stopped.
export function startSampling(d: SamplerDeps, everyMs: number, phase: () => Sample['phase'], onSample: (s: Sample) => void): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const base = Date.now();
  let n = 0;
  // On a fixed cadence (base + n × everyMs); a sample that took longer than that delays the next.
  const tick = () => {
    current = takeSample(d, phase())
      .then(onSample, (err: unknown) => console.error(`sample failed: ${(err as Error).message}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, Math.max(0, base + ++n * everyMs - Date.now()));
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
