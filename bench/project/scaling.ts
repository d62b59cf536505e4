// Relay scaling: the same pre-filled backlog (200k rows in the default run) drained by 1, 2 and 3
// relay processes (src/relay/main.ts each, RELAY_CONCURRENCY loops each), no api, no workers. For
// each count: the relays start and drain a small warm-up backlog (JIT, pools, LISTEN), the outbox
// is emptied, the backlog is filled and analyzed in one transaction (lib/fill.ts) while they idle,
// and the clock runs from its commit (plus a NOTIFY, which wakes one loop in every relay) to the
// last row published. Counts are run in alternating order over `scaleRounds` rounds. No assertion:
// on a small machine the relays, Postgres and Redis share the same cores, and the CPU of each
// window says which of them ran out.
import { WAKE_CHANNEL } from '../../src/relay/notifier.ts';
import { sleep, waitUntil, wallNow } from '../lib/clock.ts';
import type { CpuUse } from '../lib/cpu.ts';
import { fillAnalyzed } from '../lib/fill.ts';
import { pgActivityWindow, type PgActivity } from '../lib/pg-activity.ts';
import type { BenchDb, Infra } from '../lib/infra.ts';
import { BACKLOG_SQL } from '../lib/payload.ts';
import { startRole, type Child } from '../lib/procs.ts';
import type { Profile } from '../lib/profile.ts';
import { round } from '../lib/stats.ts';

export const RELAY_COUNTS = [1, 2, 3] as const;

export interface ScaleRun {
  relays: number;
  round: number;
  rows: number;
  seconds: number;
  rowsPerS: number;
  fillSeconds: number;
  cpu?: CpuUse;
  postgres?: PgActivity;
}

async function anyLeft(db: BenchDb): Promise<boolean> {
  const [row] = await db.sql<{ left: boolean }[]>`SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND dead_at IS NULL) AS left`;
  return row!.left;
}

export async function benchScaling(infra: Infra, db: BenchDb, profile: Profile) {
  const label = 'scale';
  const config = infra.config(db, label);
  const env = infra.roleEnv(db, label);
  await infra.truncate(db);
  const runs: ScaleRun[] = [];
  let relays: Child[] = [];
  const stopRelays = async () => {
    await Promise.all(relays.map((r) => r.stop()));
    relays = [];
  };
  try {
    for (let round_ = 0; round_ < profile.scaleRounds; round_++) {
      const counts = round_ % 2 === 0 ? [...RELAY_COUNTS] : [...RELAY_COUNTS].reverse();
      for (const n of counts) {
        relays = await Promise.all(Array.from({ length: n }, () => startRole('relay', 'src/relay/main.ts', env)));
        // Warm-up: every relay publishes a few batches, then everything is emptied.
        await db.sql.unsafe(BACKLOG_SQL, [Math.max(2000, n * 2 * config.RELAY_BATCH_SIZE * config.RELAY_CONCURRENCY)]);
        await db.sql.notify(WAKE_CHANNEL, '');
        await waitUntil('the warm-up backlog to drain', async () => !(await anyLeft(db)), 60_000, 20);
        await infra.truncate(db);
        await infra.deletePrefix(label);
        await sleep(300);

        const fill = await fillAnalyzed(db, profile.scaleRows);
        const cpu = infra.cpuProbe(() => ({ relay: relays.map((r) => r.pid) }))();
        const pg = await pgActivityWindow(db);
        await db.sql.notify(WAKE_CHANNEL, '');
        while (await anyLeft(db)) {
          if (wallNow() - fill.committedAt > 10 * 60_000) throw new Error(`${n} relay(s) did not drain ${profile.scaleRows} rows in 10 minutes`);
          await sleep(20);
        }
        const seconds = (wallNow() - fill.committedAt) / 1000;
        runs.push({
          relays: n,
          round: round_,
          rows: profile.scaleRows,
          seconds: round(seconds, 2),
          rowsPerS: round(profile.scaleRows / seconds, 1),
          fillSeconds: fill.seconds,
          cpu: await cpu.stop(),
          postgres: await pg.stop(),
        });
        await stopRelays();
        await infra.truncate(db);
        await infra.deletePrefix(label);
      }
    }
  } finally {
    await stopRelays();
    await infra.truncate(db);
    await infra.deletePrefix(label);
  }
  // Per relay count: the mean over rounds, every run's figure beside it, and the CPU of its
  // fastest run.
  const byCount = RELAY_COUNTS.map((n) => {
    const mine = runs.filter((r) => r.relays === n);
    const best = [...mine].sort((a, b) => b.rowsPerS - a.rowsPerS)[0];
    return {
      relays: n,
      rowsPerS: mine.length ? round(mine.reduce((s, r) => s + r.rowsPerS, 0) / mine.length, 1) : null,
      runs: mine.map((r) => r.rowsPerS),
      cpu: best?.cpu,
      postgres: best?.postgres,
    };
  });
  const one = byCount[0]?.rowsPerS;
  return {
    rows: profile.scaleRows,
    batchSize: config.RELAY_BATCH_SIZE,
    concurrencyPerRelay: config.RELAY_CONCURRENCY,
    byCount: byCount.map((c) => ({ ...c, overOne: one && c.rowsPerS ? round(c.rowsPerS / one, 2) : null })),
    runs,
  };
}
