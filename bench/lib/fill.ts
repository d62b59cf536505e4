// A backlog of committed order.created rows, filled and analyzed in ONE transaction: a relay
// polling meanwhile sees either nothing or the whole backlog with its statistics, so a timed drain
// can start at the commit without the relay having started early on a table the planner knows
// nothing about. (ANALYZE inside a transaction samples the rows the transaction inserted.)
import type { BenchDb } from './infra.ts';
import { wallNow } from './clock.ts';
import { BACKLOG_SQL } from './payload.ts';
import { round } from './stats.ts';

export interface Fill {
  rows: number;
  seconds: number;
  // The fill's now(): row g of the backlog has created_at = base + g µs, so the oldest and newest
  // rows still unpublished say how far the drain has got from each end (see progress()).
  base: string;
  committedAt: number; // wallNow() when the commit returned
}

export async function fillAnalyzed(db: BenchDb, rows: number): Promise<Fill> {
  const t0 = wallNow();
  const base = await db.sql.begin(async (tx) => {
    await tx.unsafe(BACKLOG_SQL, [rows]);
    await tx`ANALYZE outbox`;
    const [row] = await tx<{ base: string }[]>`SELECT now()::text AS base`;
    return row!.base;
  });
  const committedAt = wallNow();
  return { rows, seconds: round((committedAt - t0) / 1000, 2), base, committedAt };
}

// How many backlog rows the relay has taken so far, from the oldest and the newest backlog rows
// still unpublished (one step down each end of the relay's own partial index, as cheap as a claim):
// one relay loop drains the backlog oldest first, another newest first. Rows claimed by a batch
// still in flight count as not yet taken: the figure lags by at most RELAY_CONCURRENCY ×
// RELAY_BATCH_SIZE rows per relay process. Rows created after the backlog (the API's) do not count.
export async function progress(db: BenchDb, fill: Fill): Promise<number> {
  const [row] = await db.sql<{ lo: number | null; hi: number | null }[]>`
    SELECT (extract(epoch FROM min(created_at) - ${fill.base}::timestamptz) * 1000000)::float8 AS lo,
           (extract(epoch FROM max(created_at) - ${fill.base}::timestamptz) * 1000000)::float8 AS hi
    FROM outbox
    WHERE published_at IS NULL AND dead_at IS NULL
      AND created_at <= ${fill.base}::timestamptz + ${fill.rows} * interval '1 microsecond'`;
  if (row!.lo === null || row!.hi === null) return fill.rows;
  // Row g (1-based) of the backlog was created at base + g µs.
  const takenFromOldest = Math.round(row!.lo) - 1;
  const takenFromNewest = fill.rows - Math.round(row!.hi);
  return Math.max(0, Math.min(fill.rows, takenFromOldest + takenFromNewest));
}
