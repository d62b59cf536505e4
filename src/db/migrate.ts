// Append-only migrations, in sets: sql/engine/ (the outbox engine's tables, in every database a
// service using it has), sql/orders/ and sql/invoices/ (each service's own). Each file runs in its
// own transaction under an advisory lock taken before anything else (the bookkeeping table too), so
// processes starting at once on a fresh database apply each file exactly once.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { Logger } from 'pino';
import type { Sql, TxSql } from './client.ts';
import { postgresTls } from '../tls.ts';

// The same from src/db/ and from the compiled dist/db/ (tsconfig.build.json keeps the layout).
const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
const MIGRATION_LOCK_KEY = 7_240_001; // arbitrary, fixed: the advisory lock all migrators share

// The database's migrations do not match the code (missing ones, or newer ones): the fix is a
// migration command, not Postgres' connection settings.
export class MigrationStateError extends Error {
  override name = 'MigrationStateError';
}

export interface MigrationSet {
  name: string; // recorded as `<name>/<file>` in schema_migrations
  dir: string;
  // Databases made before migrations came in sets had one chain (0001_init.sql … 0006) that
  // created this set's first-file tables already: when this table exists and the set has nothing
  // recorded, its first file is recorded as applied instead of run.
  legacyTable?: string;
}

export const ENGINE_MIGRATIONS: MigrationSet = { name: 'engine', dir: `${SQL_DIR}engine/`, legacyTable: 'outbox' };
export const ORDER_MIGRATIONS: MigrationSet = { name: 'orders', dir: `${SQL_DIR}orders/`, legacyTable: 'orders' };
export const INVOICE_MIGRATIONS: MigrationSet = { name: 'invoices', dir: `${SQL_DIR}invoices/`, legacyTable: 'invoices' };

export async function listMigrations(set: MigrationSet): Promise<string[]> {
  return (await readdir(set.dir))
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => `${set.name}/${f}`);
}

async function lockAndPrepare(tx: TxSql): Promise<Set<string>> {
  await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
  await tx`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
  return new Set((await tx<{ name: string }[]>`SELECT name FROM schema_migrations`).map((r) => r.name));
}

// Applies what is missing of each set, in order; returns the names applied.
export async function migrate(sql: Sql, sets: readonly MigrationSet[], log?: Logger): Promise<string[]> {
  const applied: string[] = [];
  for (const set of sets) {
    const names = await listMigrations(set);
    await sql.begin(async (tx) => {
      const done = await lockAndPrepare(tx);
      refuseNewerDatabase(set, names, done);
      const fresh = !names.some((n) => done.has(n));
      if (fresh && set.legacyTable && names[0]) {
        const [table] = await tx<{ exists: boolean }[]>`SELECT to_regclass(${set.legacyTable}) IS NOT NULL AS exists`;
        if (table!.exists) {
          await tx`INSERT INTO schema_migrations (name) VALUES (${names[0]})`;
          log?.info({ migration: names[0] }, 'migration recorded as applied: its tables predate migration sets');
        }
      }
    });
    for (const name of names) {
      const text = await readFile(`${set.dir}${name.slice(set.name.length + 1)}`, 'utf8');
      const didApply = await sql.begin(async (tx) => {
        if ((await lockAndPrepare(tx)).has(name)) return false;
        await tx.unsafe(text);
        await tx`INSERT INTO schema_migrations (name) VALUES (${name})`;
        return true;
      });
      if (didApply) {
        applied.push(name);
        log?.info({ migration: name }, 'migration applied');
      }
    }
  }
  return applied;
}

// A database migrated by a newer version of the code: running old code on it could undo nothing,
// but it would write rows the newer schema does not expect. Refuse, naming what is unknown.
function refuseNewerDatabase(set: MigrationSet, known: readonly string[], done: ReadonlySet<string>): void {
  const unknown = [...done].filter((n) => n.startsWith(`${set.name}/`) && !known.includes(n));
  if (unknown.length > 0) {
    throw new MigrationStateError(`the database has migrations this code does not know (${unknown.join(', ')}): it was migrated by a newer version; run that version`);
  }
}

// What a role process checks at start (it does not migrate): every migration of its sets applied.
export async function missingMigrations(sql: Sql, sets: readonly MigrationSet[]): Promise<string[]> {
  // Only a missing table means "never migrated"; an unreachable Postgres is an error of its own.
  const rows = await sql<{ name: string }[]>`SELECT name FROM schema_migrations`.catch((err: { code?: string }) => {
    if (err.code === '42P01') return []; // undefined_table
    throw err;
  });
  const applied = new Set(rows.map((r) => r.name));
  const missing: string[] = [];
  for (const set of sets) {
    const names = await listMigrations(set);
    refuseNewerDatabase(set, names, applied);
    missing.push(...names.filter((m) => !applied.has(m)));
  }
  return missing;
}

// Creates the database named in `url` when it does not exist yet, by connecting to the
// `postgres` maintenance database of the same server.
export async function ensureDatabase(url: string, log?: Logger): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database: add one, for example /outbox');
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const tls = postgresTls(admin.toString()); // the same TLS as the database's own connections
  const sql = postgres(tls.url, { ...tls.options, max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [exists] = await sql`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (exists) return false;
    try {
      await sql.unsafe(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Created by a racing process: 42P04, or 23505 when both inserts reached pg_database at once.
      if (code === '42P04' || code === '23505') return false;
      throw err;
    }
    log?.info({ database: name }, 'database created');
    return true;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
