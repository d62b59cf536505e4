// B_tx: the order + outbox transaction exactly as the API runs it (the order store's place(): one
// CTE statement, one commit), straight from postgres.js, at the API's concurrency (CLIENTS
// transactions in flight over a pool of PG_POOL_MAX connections, which pipelines them), without HTTP.
import { createOrderStore } from '../../src/api/order-store.ts';
import { eventHeadersFor } from '../../src/api/trace.ts';
import { createSql } from '../../src/db/client.ts';
import { eventInsert, newEvent } from '../../src/engine/events.ts';
import { wallNow } from '../lib/clock.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { ORDER_BODY } from '../lib/payload.ts';
import { CLIENTS, type Profile } from '../lib/profile.ts';
import { round, summarize } from '../lib/stats.ts';

export async function benchTx(infra: Infra, db: BenchDb, profile: Profile) {
  const config = infra.config(db, 'tx');
  const sql = createSql({ url: db.url, max: config.PG_POOL_MAX, connectTimeoutS: 10 });
  // The engine's outbox insert without the engine (no Redis): the relay wake-up is a no-op here.
  const store = createOrderStore(sql, { newEvent, eventInsert, wakeRelay: () => {} });
  const run = async (ms: number, latencies?: number[]) => {
    const end = wallNow() + ms;
    let n = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (wallNow() < end) {
          const t = wallNow();
          await store.place(ORDER_BODY, eventHeadersFor(undefined, undefined));
          latencies?.push(wallNow() - t);
          n++;
        }
      }),
    );
    return n;
  };
  try {
    await run(profile.warmMs);
    const latencies: number[] = [];
    const cpu = infra.cpuProbe(() => ({}))();
    const t0 = wallNow();
    const n = await run(profile.txMs, latencies);
    const seconds = (wallNow() - t0) / 1000;
    return { txPerS: round(n / seconds, 1), transactions: n, seconds: round(seconds, 2), concurrency: CLIENTS, latencyMs: summarize(latencies), cpu: await cpu.stop() };
  } finally {
    await sql.end({ timeout: 5 });
    await infra.truncate(db);
  }
}
