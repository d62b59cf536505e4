// API: orders/s and latency of POST /orders, driven by autocannon against the api role in its own
// process (src/api/main.ts). Three set-ups, on one api process and one database emptied between
// runs: the api alone (the API figure); with the project's relay (src/relay/main.ts), which the api
// wakes with its coalesced NOTIFY (wake-up on); with the same relay LISTENing in another, empty
// database (DATABASE_LISTEN_URL), so no wake-up reaches it and it finds rows by its poll every
// RELAY_POLL_INTERVAL_MS (wake-up off). The api sends its NOTIFYs in both. B_tx at the API's load
// (baselines/tx.ts) is the fourth mode. The four run interleaved, `apiRounds` times each, after a
// discarded warm-up; each figure is the median of its runs (the machine is shared: single runs are noisy).
import autocannon from 'autocannon';
import { sleep, waitUntil } from '../lib/clock.ts';
import type { CpuUse } from '../lib/cpu.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { ORDER_BODY } from '../lib/payload.ts';
import { freePort, startRole, type Child } from '../lib/procs.ts';
import { CLIENTS, type Profile } from '../lib/profile.ts';
import { median, round } from '../lib/stats.ts';
import { txClient, txRound, type TxRun } from '../baselines/tx.ts';

export interface ApiRun {
  ordersPerS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  cpu?: CpuUse;
}

type Mode = 'alone' | 'on' | 'off' | 'tx';

export async function benchApi(infra: Infra, db: BenchDb, profile: Profile) {
  const config = infra.config(db, 'api');
  const connections = CLIENTS;
  const port = await freePort();
  const env = infra.roleEnv(db, 'api', { PORT: String(port) });
  const deaf = await infra.database('nowake');
  const api = await startRole('api', 'src/api/main.ts', env);
  const endMaintenance = infra.maintain(db);
  const url = `http://127.0.0.1:${port}/orders`;
  const cannon = async (ms: number): Promise<ApiRun> => {
    const r = await autocannon({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ORDER_BODY),
      connections,
      duration: ms / 1000,
    });
    return {
      ordersPerS: round(r['2xx'] / r.duration, 1),
      latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      non2xx: r.non2xx,
      errors: r.errors,
    };
  };
  const runs: Record<Exclude<Mode, 'tx'>, ApiRun[]> = { alone: [], on: [], off: [] };
  const txRuns: TxRun[] = [];
  const tx = txClient(db, config.PG_POOL_MAX);
  const measure = async (mode: Mode) => {
    if (mode === 'tx') {
      // B_tx at the API's own load, in the same rounds as the API's runs (the machine is shared).
      txRuns.push(await txRound(infra, tx, connections, profile.apiMs));
      await infra.truncate(db);
      return;
    }
    let relay: Child | undefined;
    if (mode === 'on') relay = await startRole('relay', 'src/relay/main.ts', env);
    if (mode === 'off') relay = await startRole('relay', 'src/relay/main.ts', { ...env, DATABASE_LISTEN_URL: deaf.url });
    try {
      const cpu = infra.cpuProbe(() => ({ api: [api.pid], ...(relay ? { relay: [relay.pid] } : {}) }))();
      const run = await cannon(profile.apiMs);
      runs[mode].push({ ...run, cpu: await cpu.stop() });
      if (relay) await waitUntil("the relay to publish the run's rows", async () => !(await unpublished(db)), profile.settleMs, 100);
    } finally {
      await relay?.stop();
      await infra.truncate(db);
      await infra.deletePrefix('api');
    }
  };
  try {
    await cannon(Math.max(profile.warmMs, 2000)); // JIT and pool warm-up, discarded
    await infra.truncate(db);
    await sleep(500);
    const modes: Mode[] = ['alone', 'tx', 'off', 'on'];
    for (let round = 0; round < profile.apiRounds; round++) {
      for (let i = 0; i < modes.length; i++) await measure(modes[(i + round) % modes.length]!);
    }
  } finally {
    await endMaintenance();
    await api.stop();
    await tx.end();
  }
  // The run whose orders/s is the median of its mode's runs, with every run's orders/s beside it.
  const pick = (mode: Exclude<Mode, 'tx'>) => {
    const sorted = [...runs[mode]].sort((a, b) => a.ordersPerS - b.ordersPerS);
    const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
    return { ...mid, ordersPerS: round(median(sorted.map((r) => r.ordersPerS)), 1), runs: runs[mode].map((r) => r.ordersPerS) };
  };
  const [alone, on, off] = [pick('alone'), pick('on'), pick('off')];
  return {
    connections,
    pgPoolMax: config.PG_POOL_MAX,
    seconds: profile.apiMs / 1000,
    alone,
    wakeupOn: { ...on, medianOrdersPerS: on.ordersPerS },
    wakeupOff: { ...off, medianOrdersPerS: off.ordersPerS },
    wakeupOnOverOff: round(on.ordersPerS / off.ordersPerS, 3),
    // B_tx in the same rounds: CLIENTS in flight over PG_POOL_MAX connections, as the API has.
    txInterleaved: { txPerS: round(median(txRuns.map((r) => r.txPerS)), 1), runs: txRuns.map((r) => r.txPerS), cpu: txRuns[0]?.cpu },
  };
}

async function unpublished(db: BenchDb): Promise<boolean> {
  const [row] = await db.sql<{ left: boolean }[]>`SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND dead_at IS NULL) AS left`;
  return row!.left;
}
