// Server-wide Postgres activity over a window: WAL written (every commit waits for its WAL to be
// flushed: the cost a drain shares with the API's commits) and checkpoints completed. Server-wide:
// other users' databases count too (the CPU table says whether there were any).
import type { BenchDb } from './infra.ts';
import { round } from './stats.ts';

export interface PgActivity {
  walMb: number;
  walMbPerS: number;
  checkpoints: number;
  buffersBackend: number; // buffers our and others' backends had to write themselves
}

export async function pgActivityWindow(db: BenchDb): Promise<{ stop(): Promise<PgActivity> }> {
  const read = async () => {
    const [row] = await db.sql<{ lsn: string; checkpoints: number; backend: number }[]>`
      SELECT pg_current_wal_lsn()::text AS lsn, (checkpoints_timed + checkpoints_req)::int AS checkpoints,
             buffers_backend::int AS backend FROM pg_stat_bgwriter`;
    return { ...row!, t: performance.now() };
  };
  const a = await read();
  return {
    async stop() {
      const b = await read();
      const [d] = await db.sql<{ bytes: number }[]>`SELECT pg_wal_lsn_diff(${b.lsn}::pg_lsn, ${a.lsn}::pg_lsn)::float8 AS bytes`;
      const walMb = d!.bytes / 1048576;
      return { walMb: round(walMb, 1), walMbPerS: round(walMb / ((b.t - a.t) / 1000), 1), checkpoints: b.checkpoints - a.checkpoints, buffersBackend: b.backend - a.backend };
    },
  };
}
