// B_tx: the order + outbox transaction as the API writes it (the order store's place(): one CTE
// statement), one commit per order as a plain postgres.js service would run it (the API's group
// commit is off here), straight from postgres.js, without HTTP. Two figures:
// - at the API's own load (CLIENTS transactions in flight over PG_POOL_MAX connections), run
//   interleaved with the API's rounds by project/api.ts (txRound), so both see the same machine;
// - its best over a sweep of in-flight counts and pool sizes (benchTx), the capacity of this
//   Postgres for this transaction, whatever our pool settings are. api_over_tx divides by the best.
import { createOrderStore, type OrderStore } from '../../src/api/order-store.ts';
import { eventHeadersFor } from '../../src/api/trace.ts';
import { createSql, type Sql } from '../../src/db/client.ts';
import { eventInsert, newEvent } from '../../src/engine/events.ts';
import { wallNow } from '../lib/clock.ts';
import type { CpuUse } from '../lib/cpu.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { ORDER_TO_PLACE } from '../lib/payload.ts';
import { CLIENTS, type Profile } from '../lib/profile.ts';
import { round, summarize, type Summary } from '../lib/stats.ts';

// [transactions in flight, pool connections]; the API's own pair (CLIENTS, PG_POOL_MAX) is among them.
const SWEEP: Array<[number, number]> = [
  [4, 4],
  [16, 4],
  [16, 16],
  [64, 4],
  [64, 16],
];

export interface TxRun {
  txPerS: number;
  transactions: number;
  seconds: number;
  inFlight: number;
  pool: number;
  latencyMs: Summary | null;
  cpu?: CpuUse;
}

export interface TxClient {
  store: OrderStore;
  pool: number;
  end: () => Promise<void>;
}

export function txClient(db: BenchDb, pool: number): TxClient {
  const sql: Sql = createSql({ url: db.url, max: pool, connectTimeoutS: 10 });
  // The engine's outbox insert without the engine (no Redis): the relay wake-up is a no-op here.
  // One transaction per order, as a plain postgres.js service would do it: the API's group commit
  // is what the API adds over this baseline.
  const store = createOrderStore(sql, { newEvent, eventInsert, wakeRelay: () => {} }, { groupCommit: false });
  return { store, pool, end: () => sql.end({ timeout: 5 }) };
}

// `inFlight` loops placing orders for `ms`; a warm-up first when warmMs is given.
export async function txRound(infra: Infra, client: TxClient, inFlight: number, ms: number, warmMs = 0): Promise<TxRun> {
  const run = async (windowMs: number, latencies?: number[]) => {
    const end = wallNow() + windowMs;
    let n = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (wallNow() < end) {
          const t = wallNow();
          await client.store.place(ORDER_TO_PLACE, eventHeadersFor(undefined, undefined));
          latencies?.push(wallNow() - t);
          n++;
        }
      }),
    );
    return n;
  };
  if (warmMs > 0) await run(warmMs);
  const latencies: number[] = [];
  const cpu = infra.cpuProbe(() => ({}))();
  const t0 = wallNow();
  const n = await run(ms, latencies);
  const seconds = (wallNow() - t0) / 1000;
  return { txPerS: round(n / seconds, 1), transactions: n, seconds: round(seconds, 2), inFlight, pool: client.pool, latencyMs: summarize(latencies), cpu: await cpu.stop() };
}

export async function benchTx(infra: Infra, db: BenchDb, profile: Profile) {
  const config = infra.config(db, 'tx');
  const pairs = SWEEP.some(([f, p]) => f === CLIENTS && p === config.PG_POOL_MAX) ? SWEEP : [...SWEEP, [CLIENTS, config.PG_POOL_MAX] as [number, number]];
  const sweep: TxRun[] = [];
  for (const [inFlight, pool] of pairs) {
    const client = txClient(db, pool);
    try {
      sweep.push(await txRound(infra, client, inFlight, profile.txMs, profile.warmMs));
    } finally {
      await client.end();
      await infra.truncate(db);
    }
  }
  const best = sweep.reduce((a, b) => (b.txPerS > a.txPerS ? b : a));
  return { ...best, concurrency: best.inFlight, sweep: sweep.map(({ inFlight, pool, txPerS }) => ({ inFlight, pool, txPerS })) };
}
