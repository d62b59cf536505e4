// Which migration sets each database of this deployment gets: the orders database has the engine's
// tables and the order service's (and the invoice service's, unless it has a database of its own);
// a separate invoices database has the engine's tables and the invoice service's.
import type { Config } from './config.ts';
import { ENGINE_MIGRATIONS, INVOICE_MIGRATIONS, ORDER_MIGRATIONS, type MigrationSet } from './db/migrate.ts';

export interface DatabasePlan {
  variable: 'DATABASE_URL' | 'INVOICES_DATABASE_URL';
  url: string;
  sets: readonly MigrationSet[];
}

export function databasePlan(config: Config): DatabasePlan[] {
  if (!config.INVOICES_DATABASE_URL) {
    return [{ variable: 'DATABASE_URL', url: config.DATABASE_URL, sets: [ENGINE_MIGRATIONS, ORDER_MIGRATIONS, INVOICE_MIGRATIONS] }];
  }
  return [
    { variable: 'DATABASE_URL', url: config.DATABASE_URL, sets: [ENGINE_MIGRATIONS, ORDER_MIGRATIONS] },
    { variable: 'INVOICES_DATABASE_URL', url: config.INVOICES_DATABASE_URL, sets: [ENGINE_MIGRATIONS, INVOICE_MIGRATIONS] },
  ];
}
