// The audit's read-only queries: one statement per check, set-based, each returning at most
// `limit` rows plus `total`, the number of rows the check found in all (a window count taken
// before the LIMIT). Each runs in its own snapshot; see audit.ts for why that is safe.
//
// When the invoice service keeps its own database, no statement can join invoices to orders: the
// `…Across` checks in queries-across.ts stand in for the checks here that read invoices.
import type { Db } from '../db/client.ts';
import { FINAL_STATUSES } from '../db/orders.ts';
import type { EffectTable } from './report.ts';

interface Counted {
  total: number;
}

export interface LatestEvent {
  event_id: string | null;
  event_type: string | null;
  published_at: Date | null;
  dead_at: Date | null;
  last_error: string | null;
}

export interface UnsettledOrderRow extends Counted, LatestEvent {
  id: string;
  status: string;
  created_at: Date;
}

export interface OutboxRowFinding extends Counted {
  id: string;
  aggregate_id: string;
  event_type: string;
  created_at: Date;
  published_at: Date | null;
  dead_at: Date | null;
  attempts: number;
  republished: number;
  last_error: string | null;
}

export interface OrderFinding extends Counted {
  id: string;
  status: string;
  updated_at: Date;
  event_id: string | null;
}

export interface DuplicateEffectRow extends Counted {
  effect: EffectTable;
  order_id: string;
  ids: string[];
}

export interface OrphanEffectRow extends Counted {
  effect: EffectTable;
  id: string;
  order_id: string;
  // When the effect row was written (what the findings are ordered by).
  at: Date;
}

// Whether a statement may read the invoices table: only when it lives in the same database.
export interface InvoicesHere {
  invoices?: boolean;
}

// Row counts for the report, and the database's clock so the settle cutoff does not depend on the
// audit host's clock.
export async function countRowsAndNow(db: Db): Promise<{ orders: number; outbox_rows: number; now: Date }> {
  const [row] = await db<{ orders: number; outbox_rows: number; now: Date }[]>`
    SELECT (SELECT count(*) FROM orders)::int AS orders, (SELECT count(*) FROM outbox)::int AS outbox_rows, now() AS now`;
  return row!;
}

// Orders placed before the cutoff that are not in a final status, with the latest event of each
// (looked up only for the rows returned) so the reason can say where the order got stuck.
export async function findUnsettledOrders(db: Db, cutoff: Date, limit: number): Promise<UnsettledOrderRow[]> {
  return db<UnsettledOrderRow[]>`
    WITH found AS (
      SELECT id, status, created_at, count(*) OVER ()::int AS total
      FROM orders
      WHERE created_at < ${cutoff} AND status <> ALL(${FINAL_STATUSES as string[]}::text[])
      ORDER BY created_at, id
      LIMIT ${limit}
    )
    SELECT f.*, e.id AS event_id, e.event_type, e.published_at, e.dead_at, e.last_error
    FROM found f
    LEFT JOIN LATERAL (
      SELECT id, event_type, published_at, dead_at, last_error FROM outbox
      WHERE aggregate_id = f.id ORDER BY created_at DESC, id DESC LIMIT 1
    ) e ON true
    ORDER BY f.created_at, f.id`;
}

// Outbox rows written before the cutoff that are neither published nor dead: the relay has not moved them.
export async function findUnpublishedEvents(db: Db, cutoff: Date, limit: number): Promise<OutboxRowFinding[]> {
  return db<OutboxRowFinding[]>`
    SELECT id, aggregate_id, event_type, created_at, published_at, dead_at, attempts, republished, last_error, count(*) OVER ()::int AS total
    FROM outbox
    WHERE published_at IS NULL AND dead_at IS NULL AND created_at < ${cutoff}
    ORDER BY created_at, id
    LIMIT ${limit}`;
}

// Delivered (or delivery-failed, hence paid) orders last changed before the cutoff with no invoice,
// with the order.paid event whose invoices job should have billed them.
export async function findUninvoicedOrders(db: Db, cutoff: Date, limit: number): Promise<OrderFinding[]> {
  return db<OrderFinding[]>`
    WITH found AS (
      SELECT o.id, o.status, o.updated_at, count(*) OVER ()::int AS total
      FROM orders o
      WHERE o.status IN ('delivered', 'delivery_failed') AND o.updated_at < ${cutoff}
        AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.order_id = o.id)
      ORDER BY o.updated_at, o.id
      LIMIT ${limit}
    )
    SELECT f.*, (SELECT e.id FROM outbox e WHERE e.aggregate_id = f.id AND e.event_type = 'order.paid'
                 ORDER BY e.created_at DESC LIMIT 1) AS event_id
    FROM found f
    ORDER BY f.updated_at, f.id`;
}

// Orders whose status says they were paid but that have no payment row. The status and the row
// commit in one transaction, so no settle time applies.
export async function findPaidWithoutPayment(db: Db, limit: number): Promise<OrderFinding[]> {
  return db<OrderFinding[]>`
    SELECT o.id, o.status, o.updated_at, NULL::uuid AS event_id, count(*) OVER ()::int AS total
    FROM orders o
    WHERE o.status IN ('paid', 'delivered', 'delivery_failed')
      AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)
    ORDER BY o.updated_at, o.id
    LIMIT ${limit}`;
}

// Gateway charges made before the cutoff whose order never recorded a payment: the customer was
// charged and the order was not paid (a payment that failed for good after its charge went through).
export async function findChargesWithoutPayment(db: Db, cutoff: Date, limit: number): Promise<OrderFinding[]> {
  return db<OrderFinding[]>`
    SELECT o.id, o.status, g.created_at AS updated_at, g.idempotency_key AS event_id, count(*) OVER ()::int AS total
    FROM gateway_charges g JOIN orders o ON o.id = g.order_id
    WHERE g.created_at < ${cutoff} AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = g.order_id)
    ORDER BY g.created_at, g.id
    LIMIT ${limit}`;
}

// Delivered orders with no delivery row (committed together with the status, like the payment).
export async function findDeliveredWithoutDelivery(db: Db, limit: number): Promise<OrderFinding[]> {
  return db<OrderFinding[]>`
    SELECT o.id, o.status, o.updated_at, NULL::uuid AS event_id, count(*) OVER ()::int AS total
    FROM orders o
    WHERE o.status = 'delivered' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.order_id = o.id)
    ORDER BY o.updated_at, o.id
    LIMIT ${limit}`;
}

// Orders with more than one row in an effect table: a double charge, payment, delivery or invoice.
// Groups are counted first; row ids are gathered only for the groups returned.
//
// With `invoices: false` (the invoice service keeps its own database) invoices are not checked,
// and need not be: its invoices table has UNIQUE(order_id) (sql/invoices/0001_invoices.sql), so a
// second invoice for an order cannot exist; the inbox and that constraint together make billing
// idempotent. In one database the check stays, as it always was.
export async function findDuplicateEffects(db: Db, limit: number, { invoices = true }: InvoicesHere = {}): Promise<DuplicateEffectRow[]> {
  return db<DuplicateEffectRow[]>`
    WITH dup AS (
      SELECT 'gateway_charges' AS effect, order_id FROM gateway_charges GROUP BY order_id HAVING count(*) > 1
      UNION ALL SELECT 'payments', order_id FROM payments GROUP BY order_id HAVING count(*) > 1
      UNION ALL SELECT 'deliveries', order_id FROM deliveries GROUP BY order_id HAVING count(*) > 1
      ${invoices ? db`UNION ALL SELECT 'invoices', order_id FROM invoices GROUP BY order_id HAVING count(*) > 1` : db``}
    ), page AS (
      SELECT effect, order_id, count(*) OVER ()::int AS total FROM dup ORDER BY order_id, effect LIMIT ${limit}
    )
    SELECT effect, order_id, total, CASE effect
      WHEN 'gateway_charges' THEN (SELECT array_agg(id::text ORDER BY created_at) FROM gateway_charges t WHERE t.order_id = page.order_id)
      WHEN 'payments' THEN (SELECT array_agg(id::text ORDER BY created_at) FROM payments t WHERE t.order_id = page.order_id)
      WHEN 'deliveries' THEN (SELECT array_agg(id::text ORDER BY dispatched_at) FROM deliveries t WHERE t.order_id = page.order_id)
      ${invoices ? db`WHEN 'invoices' THEN (SELECT array_agg(id::text ORDER BY created_at) FROM invoices t WHERE t.order_id = page.order_id)` : db``}
    END AS ids
    FROM page ORDER BY order_id, effect`;
}

// Effect rows whose order does not exist. payments and deliveries have a foreign key, so of the
// order service's tables only gateway_charges (the external ledger) can really hold one; the others
// are checked in case the constraint is ever dropped. invoices belong to the invoice service and
// have no foreign key to orders (sql/invoices/0002_invoice_customer.sql drops it): an invoice for
// an order that does not exist is possible, and found here in one database, or, with
// `invoices: false`, by findOrphanEffectsAcross (queries-across.ts).
export async function findOrphanEffects(db: Db, limit: number, { invoices = true }: InvoicesHere = {}): Promise<OrphanEffectRow[]> {
  return db<OrphanEffectRow[]>`
    WITH orphan AS (
      SELECT 'gateway_charges' AS effect, t.id, t.order_id, t.created_at AS at FROM gateway_charges t
        WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.order_id)
      UNION ALL SELECT 'payments', t.id, t.order_id, t.created_at FROM payments t
        WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.order_id)
      UNION ALL SELECT 'deliveries', t.id, t.order_id, t.dispatched_at FROM deliveries t
        WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.order_id)
      ${
        invoices
          ? db`UNION ALL SELECT 'invoices', t.id, t.order_id, t.created_at FROM invoices t
        WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.order_id)`
          : db``
      }
    )
    SELECT effect, id, order_id, at, count(*) OVER ()::int AS total FROM orphan ORDER BY at, id LIMIT ${limit}`;
}

// Outbox rows the relay gave up on (dead), oldest first.
export async function findDeadEvents(db: Db, limit: number): Promise<OutboxRowFinding[]> {
  return db<OutboxRowFinding[]>`
    SELECT id, aggregate_id, event_type, created_at, published_at, dead_at, attempts, republished, last_error, count(*) OVER ()::int AS total
    FROM outbox
    WHERE dead_at IS NOT NULL
    ORDER BY dead_at, id
    LIMIT ${limit}`;
}

// Outbox rows published after a failed attempt, or again after Redis lost their job: a retry healed them.
export async function findRetriedPublishedEvents(db: Db, limit: number): Promise<OutboxRowFinding[]> {
  return db<OutboxRowFinding[]>`
    SELECT id, aggregate_id, event_type, created_at, published_at, dead_at, attempts, republished, last_error, count(*) OVER ()::int AS total
    FROM outbox
    WHERE published_at IS NOT NULL AND (attempts > 0 OR republished > 0)
    ORDER BY published_at, id
    LIMIT ${limit}`;
}

// The event types of those of `ids` that exist in the outbox (one page of BullMQ job ids).
export async function findEventTypes(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db<{ id: string; event_type: string }[]>`
    SELECT id, event_type FROM outbox WHERE id = ANY(${ids as string[]}::uuid[])`;
  return new Map(rows.map((r) => [r.id, r.event_type]));
}
