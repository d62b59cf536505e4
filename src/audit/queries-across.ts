// The audit's cross-database checks, used when the invoice service keeps its own database: no
// statement can join invoices to orders there, so each check reads one side in pages of primary
// keys and looks each page up on the other side with one `= ANY($ids)` query, keeping only the
// oldest `limit` findings in memory. Each statement runs in its own snapshot; see audit.ts for why
// that is safe.
import type { Db } from '../db/client.ts';
import { keepOldest, mergeCounted } from './oldest.ts';
import { findOrphanEffects, type OrderFinding, type OrphanEffectRow } from './queries.ts';

// Ids per page of a cross-database check (one `= ANY($ids)` lookup each).
export const LOOKUP_PAGE_SIZE = 1000;

// findUninvoicedOrders when the invoices are in their own database: the candidate orders are read
// from the orders database a page at a time (by primary key) and their invoices looked up in the
// invoices database. Orders are read before their invoices, so an invoice written meanwhile is
// seen (no false finding); the latest order.paid event is looked up only for the orders returned.
export async function findUninvoicedOrdersAcross(ordersDb: Db, invoicesDb: Db, cutoff: Date, limit: number, pageSize = LOOKUP_PAGE_SIZE): Promise<OrderFinding[]> {
  const oldest = keepOldest<{ id: string; status: string; updated_at: Date; at: Date }>(limit);
  let after: string | undefined;
  for (;;) {
    const page = await ordersDb<{ id: string; status: string; updated_at: Date }[]>`
      SELECT id, status, updated_at FROM orders
      WHERE status IN ('delivered', 'delivery_failed') AND updated_at < ${cutoff}
        ${after === undefined ? ordersDb`` : ordersDb`AND id > ${after}::uuid`}
      ORDER BY id
      LIMIT ${pageSize}`;
    if (page.length === 0) break;
    const invoiced = await invoicedOrderIds(
      invoicesDb,
      page.map((o) => o.id),
    );
    for (const o of page) if (!invoiced.has(o.id)) oldest.add({ ...o, at: o.updated_at });
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.id;
  }
  const found = oldest.rows();
  const total = oldest.total();
  const events = await latestPaidEvents(
    ordersDb,
    found.map((o) => o.id),
    pageSize,
  );
  return found.map(({ id, status, updated_at }) => ({ id, status, updated_at, event_id: events.get(id) ?? null, total }));
}

// findOrphanEffects when the invoices are in their own database: the order service's effect tables
// are checked in the orders database, the invoices by findOrphanInvoicesAcross, and the two merged
// (oldest first, totals added).
export async function findOrphanEffectsAcross(ordersDb: Db, invoicesDb: Db, limit: number, pageSize = LOOKUP_PAGE_SIZE): Promise<OrphanEffectRow[]> {
  const effects = await findOrphanEffects(ordersDb, limit, { invoices: false });
  const invoices = await findOrphanInvoicesAcross(ordersDb, invoicesDb, limit, pageSize);
  return mergeCounted(limit, effects, invoices);
}

// Invoices in the invoice service's database whose order does not exist in the orders database.
// Invoices are read first, a page at a time, then their orders: an order commits before its
// order.paid event, hence before its invoice, so a live order is always found.
export async function findOrphanInvoicesAcross(ordersDb: Db, invoicesDb: Db, limit: number, pageSize = LOOKUP_PAGE_SIZE): Promise<OrphanEffectRow[]> {
  const oldest = keepOldest<{ id: string; order_id: string; at: Date }>(limit);
  let after: string | undefined;
  for (;;) {
    const page = await invoicesDb<{ id: string; order_id: string; at: Date }[]>`
      SELECT id, order_id, created_at AS at FROM invoices
      ${after === undefined ? invoicesDb`` : invoicesDb`WHERE id > ${after}::uuid`}
      ORDER BY id
      LIMIT ${pageSize}`;
    if (page.length === 0) break;
    const existing = await existingOrderIds(
      ordersDb,
      page.map((i) => i.order_id),
    );
    for (const i of page) if (!existing.has(i.order_id)) oldest.add(i);
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.id;
  }
  const total = oldest.total();
  return oldest.rows().map((i) => ({ effect: 'invoices' as const, ...i, total }));
}

// Those of `orderIds` (one page) that have an invoice.
async function invoicedOrderIds(invoicesDb: Db, orderIds: readonly string[]): Promise<Set<string>> {
  const rows = await invoicesDb<{ order_id: string }[]>`
    SELECT order_id FROM invoices WHERE order_id = ANY(${orderIds as string[]}::uuid[])`;
  return new Set(rows.map((r) => r.order_id));
}

// Those of `orderIds` (one page) that exist.
async function existingOrderIds(ordersDb: Db, orderIds: readonly string[]): Promise<Set<string>> {
  const rows = await ordersDb<{ id: string }[]>`SELECT id FROM orders WHERE id = ANY(${[...new Set(orderIds)]}::uuid[])`;
  return new Set(rows.map((r) => r.id));
}

// The latest order.paid event of each of `orderIds`, in pages.
async function latestPaidEvents(ordersDb: Db, orderIds: readonly string[], pageSize: number): Promise<Map<string, string>> {
  const events = new Map<string, string>();
  for (let i = 0; i < orderIds.length; i += pageSize) {
    const rows = await ordersDb<{ aggregate_id: string; id: string }[]>`
      SELECT DISTINCT ON (aggregate_id) aggregate_id, id FROM outbox
      WHERE aggregate_id = ANY(${orderIds.slice(i, i + pageSize) as string[]}::uuid[]) AND event_type = 'order.paid'
      ORDER BY aggregate_id, created_at DESC`;
    for (const r of rows) events.set(r.aggregate_id, r.id);
  }
  return events;
}
