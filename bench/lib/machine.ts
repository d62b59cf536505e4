// The machine a run measured: cores, memory, Node, Postgres and Redis versions and the settings
// that decide durability and speed (synchronous_commit, fsync, appendonly, …), and the load that
// other users of the machine put on it when the run started and ended.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Redis } from 'ioredis';
import postgres from 'postgres';

function pkgVersion(name: string): string | undefined {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

// The code measured: the commit, and how many files differ from it (the tree may be mid-change).
function sourceState() {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: new URL('../../', import.meta.url).pathname, encoding: 'utf8' }).trim();
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), changedFiles: git('status', '--porcelain', '--', 'src', 'sql').split('\n').filter(Boolean).length };
  } catch {
    return undefined;
  }
}

// A single-thread speed index: JSON round trips of the bench's order per millisecond, best of three
// 100 ms tries. On a shared virtual machine the same CPU time can buy much less work from one hour
// to the next (other guests on the host); figures of two runs compare only if this agrees too.
export function cpuSpeedIndex(): number {
  const order = { customer_name: 'Bench Customer', address: '1 Benchmark Way', items: [{ flavor: 'Margherita', size: 'medium', quantity: 2, unit_price_cents: 1250 }] };
  let best = 0;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 100) {
      for (let i = 0; i < 100; i++) JSON.parse(JSON.stringify(order));
      n += 100;
    }
    best = Math.max(best, n / (performance.now() - t0));
  }
  return Math.round(best);
}

export async function machineInfo(serverUrl: string, redis: Redis) {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const setting = async (name: string) => ((await sql`SELECT current_setting(${name}) AS v`)[0] as { v: string }).v;
    const pgSettings: Record<string, string> = {};
    for (const name of ['server_version', 'synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay', 'shared_buffers', 'max_wal_size', 'autovacuum', 'max_connections']) {
      pgSettings[name] = await setting(name);
    }
    if (redis.status === 'wait') await redis.connect();
    const info = await redis.info('server');
    const redisVersion = /redis_version:(\S+)/.exec(info)?.[1];
    const cfg = async (k: string) => ((await redis.config('GET', k)) as string[])[1];
    const cpus = os.cpus();
    return {
      cores: cpus.length,
      cpuModel: cpus[0]?.model.trim(),
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
      postgres: pgSettings.server_version,
      postgresSettings: pgSettings,
      redis: redisVersion,
      redisSettings: { appendonly: await cfg('appendonly'), appendfsync: await cfg('appendfsync'), save: await cfg('save'), 'maxmemory-policy': await cfg('maxmemory-policy') },
      packages: Object.fromEntries(['bullmq', 'ioredis', 'postgres', 'hono', 'graphile-worker', 'autocannon', 'tsx'].map((p) => [p, pkgVersion(p)])),
      loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
      cpuSpeedAtStart: cpuSpeedIndex(),
      source: sourceState(),
    };
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export type Machine = Awaited<ReturnType<typeof machineInfo>>;
