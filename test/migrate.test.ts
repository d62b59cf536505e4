// Migrations under concurrency and against databases the code did not make: several migrators at
// once on a fresh database apply each file once; a database migrated by newer code is refused; a
// database from the single pre-set chain is taken over without re-running its first files.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createSql, type Sql } from '../src/db/client.ts';
import { ENGINE_MIGRATIONS, ensureDatabase, INVOICE_MIGRATIONS, listMigrations, migrate, MigrationStateError, ORDER_MIGRATIONS } from '../src/db/migrate.ts';

const SETS = [ENGINE_MIGRATIONS, ORDER_MIGRATIONS, INVOICE_MIGRATIONS];
const created: string[] = [];
const pools: Sql[] = [];

async function freshDatabase(): Promise<string> {
  const u = new URL(inject('databaseUrl'));
  u.pathname = `/outbox_migrate_${randomBytes(5).toString('hex')}`;
  await ensureDatabase(u.toString());
  created.push(u.pathname.slice(1));
  return u.toString();
}

function pool(url: string): Sql {
  const sql = createSql({ url, max: 1, connectTimeoutS: 5 });
  pools.push(sql);
  return sql;
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end({ timeout: 5 })));
  const u = new URL(inject('databaseUrl'));
  u.pathname = '/postgres';
  const admin = postgres(u.toString(), { max: 1, onnotice: () => {} });
  for (const name of created) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end({ timeout: 5 });
});

describe('migrations', () => {
  it('apply each file exactly once with four migrators at once on each of five fresh databases', async () => {
    const expected = (await Promise.all(SETS.map((s) => listMigrations(s)))).flat();
    for (let round = 0; round < 5; round++) {
      const url = await freshDatabase();
      const applied = await Promise.all(Array.from({ length: 4 }, () => migrate(pool(url), SETS)));
      expect(applied.flat().sort()).toEqual([...expected].sort()); // each name applied by exactly one
      const rows = await pool(url)<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY name`;
      expect(rows.map((r) => r.name)).toEqual([...expected].sort());
    }
  });

  it('refuses a database migrated by newer code, naming the migration it does not know', async () => {
    const url = await freshDatabase();
    const sql = pool(url);
    await migrate(sql, SETS);
    await sql`INSERT INTO schema_migrations (name) VALUES ('engine/9999_from_the_future.sql')`;
    const refused = migrate(sql, SETS);
    await expect(refused).rejects.toBeInstanceOf(MigrationStateError);
    await expect(refused).rejects.toThrow(/engine\/9999_from_the_future\.sql/);
  });

  it('takes over a database of the single pre-set chain without running its first files again', async () => {
    const url = await freshDatabase();
    const sql = pool(url);
    // What the old chain left: its bookkeeping and the tables of each set's first file.
    await sql`CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    await sql`INSERT INTO schema_migrations (name) VALUES ('0001_init.sql'), ('0006_outbox_autovacuum.sql')`;
    await sql.file(new URL('../sql/engine/0001_outbox.sql', import.meta.url).pathname);
    await sql.file(new URL('../sql/orders/0001_orders.sql', import.meta.url).pathname);
    await sql.file(new URL('../sql/invoices/0001_invoices.sql', import.meta.url).pathname);
    const applied = await migrate(sql, SETS);
    expect(applied).toEqual(['engine/0002_signing_key.sql', 'orders/0002_customers_menu.sql', 'invoices/0002_invoice_customer.sql']);
    const [column] = await sql`SELECT 1 FROM information_schema.columns WHERE table_name = 'invoices' AND column_name = 'customer_name'`;
    expect(column).toBeDefined();
  });
});
