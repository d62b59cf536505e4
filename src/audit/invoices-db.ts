// The invoice service's database, for the audit, when it has its own (INVOICES_DATABASE_URL): a
// small pool opened like the tools' own (src/tool-connections.ts), checked up front so a wrong URL
// is one exit message, not a failed check halfway through the audit.
import type { Config } from '../config.ts';
import { createSql, type Sql } from '../db/client.ts';
import { createLogger } from '../logger.ts';
import { safeUrl, SetupError } from '../tool-connections.ts';

// Undefined when the invoices live beside the orders (INVOICES_DATABASE_URL unset).
export function openInvoicesSql(config: Config, name: string, max = 1): Sql | undefined {
  if (!config.INVOICES_DATABASE_URL) return undefined;
  const log = createLogger('silent', name);
  return createSql({ url: config.INVOICES_DATABASE_URL, max, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, prepare: config.PG_PREPARE, log });
}

export async function checkInvoicesSql(config: Config, sql: Sql): Promise<void> {
  const url = safeUrl(config.INVOICES_DATABASE_URL!);
  let hasTable: boolean;
  try {
    const [row] = await sql<{ invoices: string | null }[]>`SELECT to_regclass('invoices')::text AS invoices`;
    hasTable = row?.invoices != null;
  } catch (err) {
    throw new SetupError(`cannot reach the invoices database at ${url}: ${(err as Error).message}. Check INVOICES_DATABASE_URL and that Postgres is running`, { cause: err });
  }
  if (!hasTable) throw new SetupError(`the database at ${url} has no invoices table: use the invoice service's INVOICES_DATABASE_URL, or run npm run migrate.`);
}

export async function closeInvoicesSql(sql: Sql | undefined): Promise<void> {
  await sql?.end({ timeout: 5 }).catch(() => {});
}
