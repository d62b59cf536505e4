// Append-only migrations from sql/NNNN_name.sql, each in its own transaction under an advisory lock,
// so several processes starting at once apply each file exactly once.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { Logger } from 'pino';
import type { Sql } from './client.ts';

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
const MIGRATION_LOCK_KEY = 7_240_001; // arbitrary, fixed: the advisory lock all migrators share

export async function listMigrations(dir = SQL_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
}

export async function migrate(sql: Sql, log?: Logger, dir = SQL_DIR): Promise<string[]> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
  const applied: string[] = [];
  for (const name of await listMigrations(dir)) {
    const text = await readFile(`${dir}${name}`, 'utf8');
    const didApply = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
      const [done] = await tx`SELECT 1 FROM schema_migrations WHERE name = ${name}`;
      if (done) return false;
      await tx.unsafe(text);
      await tx`INSERT INTO schema_migrations (name) VALUES (${name})`;
      return true;
    });
    if (didApply) {
      applied.push(name);
      log?.info({ migration: name }, 'migration applied');
    }
  }
  return applied;
}

// Creates the database named in `url` when it does not exist yet, by connecting to the
// `postgres` maintenance database of the same server.
export async function ensureDatabase(url: string, log?: Logger): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database: add one, for example /outbox');
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [exists] = await sql`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (exists) return false;
    try {
      await sql.unsafe(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    } catch (err) {
      if ((err as { code?: string }).code === '42P04') return false; // created by a racing process
      throw err;
    }
    log?.info({ database: name }, 'database created');
    return true;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
