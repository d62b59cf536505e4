// What a window of orders cost in units that do not depend on how busy the machine is: Postgres
// commits, rollbacks and row writes in the run's database (pg_stat_database), statements (from
// pg_stat_statements, where the server preloads it), and commands Redis processed (INFO stats:
// server-wide, so nothing else may use the bench's Redis). Divided by the orders of the window,
// they are the per-order work an A/B pair can compare on a noisy host, where CPU figures drift.
import type { Redis } from 'ioredis';
import type { Sql } from '../../src/db/client.ts';
import { round } from './stats.ts';

export interface WorkPerOrder {
  orders: number;
  commits: number;
  rollbacks: number;
  rowWrites: number; // inserted + updated + deleted tuples
  statements: number | null; // null without pg_stat_statements
  redisCommands: number;
  // With pg_stat_statements: the statements most called in the window, per order.
  topStatements?: Array<{ perOrder: number; msPerOrder: number; query: string }>;
}

interface Reading {
  commits: number;
  rollbacks: number;
  rowWrites: number;
  statements: number | null;
  redisCommands: number;
}

async function read(sql: Sql, dbName: string, redis: Redis): Promise<Reading> {
  const [db] = await sql<{ commits: number; rollbacks: number; writes: number }[]>`
    SELECT xact_commit::float8 AS commits, xact_rollback::float8 AS rollbacks,
           (tup_inserted + tup_updated + tup_deleted)::float8 AS writes
    FROM pg_stat_database WHERE datname = ${dbName}`;
  const statements = await sql<{ calls: number }[]>`
    SELECT coalesce(sum(calls), 0)::float8 AS calls FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = ${dbName})`
    .then(([r]) => r!.calls)
    .catch(() => null); // the extension is not installed, or not preloaded
  const info = await redis.info('stats');
  const redisCommands = Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  return { commits: db?.commits ?? 0, rollbacks: db?.rollbacks ?? 0, rowWrites: db?.writes ?? 0, statements, redisCommands };
}

// Starts a window; stop(orders) gives the work per order since the start. Backends report their
// counters to the statistics system when idle, at most once a second: stop waits that long first.
export async function workWindow(sql: Sql, dbName: string, redis: Redis) {
  // This database's statement statistics only (reset(userid, dbid, queryid), 0 = any).
  await sql`SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = ${dbName}), 0)`.catch(() => undefined);
  const a = await read(sql, dbName, redis);
  return {
    async stop(orders: number): Promise<WorkPerOrder> {
      await new Promise((r) => setTimeout(r, 1500));
      const b = await read(sql, dbName, redis);
      const per = (x: number) => round(x / Math.max(1, orders), 2);
      return {
        orders,
        commits: per(b.commits - a.commits),
        rollbacks: per(b.rollbacks - a.rollbacks),
        rowWrites: per(b.rowWrites - a.rowWrites),
        statements: a.statements === null || b.statements === null ? null : per(b.statements - a.statements),
        redisCommands: per(b.redisCommands - a.redisCommands),
        ...(b.statements === null ? {} : { topStatements: await topStatements(sql, dbName, orders) }),
      };
    },
  };
}

const WHITESPACE = '\\s+'; // a parameter: a backslash in the template text would be cooked away

async function topStatements(sql: Sql, dbName: string, orders: number) {
  const rows = await sql<{ calls: number; ms: number; query: string }[]>`
    SELECT calls::float8 AS calls, total_exec_time AS ms, left(regexp_replace(query, ${WHITESPACE}, ' ', 'g'), 120) AS query
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = ${dbName})
    ORDER BY calls DESC LIMIT 15`;
  const n = Math.max(1, orders);
  return rows.map((r) => ({ perOrder: round(r.calls / n, 2), msPerOrder: round(r.ms / n, 3), query: r.query }));
}
