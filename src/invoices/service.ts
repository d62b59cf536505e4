// The invoice service: a consumer of the order service's order.paid events with a database of its
// own (INVOICES_DATABASE_URL; unset, the orders database). It uses only the engine's public entry
// point, as a team's own service would, and never reads the order service's tables.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { closeSql, createSql, type Sql } from '../db/client.ts';
import { createOutboxEngine, type Consumers } from '../engine/index.ts';
import { invoiceConsumer } from './consumer.ts';
import { INVOICE_TOPOLOGY } from './topology.ts';

export interface InvoiceService {
  sql: Sql;
  consumers: Consumers;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function invoicesDatabaseUrl(config: Config): string {
  return config.INVOICES_DATABASE_URL ?? config.DATABASE_URL;
}

export function createInvoiceService(config: Config, log: Logger, registry: Registry): InvoiceService {
  const separate = config.INVOICES_DATABASE_URL !== undefined;
  const sql = createSql({ url: invoicesDatabaseUrl(config), max: config.PG_POOL_MAX, connectTimeoutS: config.PG_CONNECT_TIMEOUT_S, prepare: config.PG_PREPARE, log });
  const engine = createOutboxEngine({ topology: INVOICE_TOPOLOGY, sql, settings: config, log: log.child({ service: 'invoices' }), registry });
  const consumers = engine.consumers([invoiceConsumer()]);
  // Beside the orders, the order service's relays prune the shared inbox; alone, it prunes its own.
  const retention = separate ? engine.retention() : undefined;
  return {
    sql,
    consumers,
    async start() {
      await engine.start();
      await consumers.start();
      retention?.start();
    },
    async stop() {
      await retention?.stop();
      await consumers.stop();
      await engine.stop();
      await closeSql(sql);
    },
  };
}
