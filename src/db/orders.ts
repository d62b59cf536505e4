// Query functions for orders: one statement each, named for what they do.
import { asJson, type Db, type Fragment } from './client.ts';

export const ORDER_STATUSES = ['pending_payment', 'paid', 'delivered', 'payment_failed', 'delivery_failed'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const FINAL_STATUSES: readonly OrderStatus[] = ['delivered', 'payment_failed', 'delivery_failed'];

export interface OrderItem {
  flavor: string;
  size: 'small' | 'medium' | 'large';
  quantity: number;
  unit_price_cents: number;
}

export interface OrderRow {
  id: string;
  customer_name: string;
  address: string;
  items: OrderItem[];
  total_cents: number;
  status: OrderStatus;
  created_at: Date;
  updated_at: Date;
  // The customer it belongs to; null for an anonymous order, readable with its access token, whose
  // SHA-256 is access_token_hash (null for orders from before customers existed: staff only).
  customer_id: string | null;
  access_token_hash: Buffer | null;
}

export interface OrderInvoice {
  id: string;
  number: string;
  amount_cents: number;
  created_at: string;
}

export interface OrderDetails extends OrderRow {
  payment: { id: string; charge_id: string; amount_cents: number; created_at: string } | null;
  delivery: { id: string; courier: string; dispatched_at: string } | null;
  // The invoice service's, read through its own query (src/invoices/queries.ts), from its database.
  invoice: OrderInvoice | null;
}

export interface NewOrder {
  id: string;
  customer_name: string;
  address: string;
  items: OrderItem[];
  total_cents: number;
  customer_id?: string | null;
  access_token_hash?: Buffer | null;
}

export type PlacedOrder = OrderRow & { event_id: string };

// The order and its order.created event as one statement: one round trip, one transaction.
// `eventInsert` is the engine's outbox insert (engine.eventInsert), a fragment that returns `id`.
export function orderWithEventStatement(db: Db, order: NewOrder, eventInsert: Fragment): Fragment {
  return db`
    WITH inserted AS (
      INSERT INTO orders (id, customer_name, address, items, total_cents, customer_id, access_token_hash)
      VALUES (${order.id}, ${order.customer_name}, ${order.address}, ${asJson(db, order.items)}, ${order.total_cents}, ${order.customer_id ?? null}, ${order.access_token_hash ?? null})
      RETURNING *
    ), event AS (${eventInsert})
    SELECT inserted.*, event.id AS event_id FROM inserted, event`;
}

// Runs it; `run` may be the engine's group commit (engine/group-commit.ts), which commits the
// orders placed at the same moment together.
export async function insertOrderWithEvent(
  db: Db,
  order: NewOrder,
  eventInsert: Fragment,
  run: (s: { fragment: Fragment }) => Promise<PlacedOrder[]> = (s) => db<PlacedOrder[]>`${s.fragment}`,
): Promise<PlacedOrder> {
  const [row] = await run({ fragment: orderWithEventStatement(db, order, eventInsert) });
  if (!row) throw new Error('order insert returned no row');
  return row;
}

// The order with its payment and delivery (each null until it exists); the invoice is the invoice
// service's to tell.
export async function findOrderDetails(db: Db, id: string): Promise<Omit<OrderDetails, 'invoice'> | undefined> {
  const [row] = await db<Omit<OrderDetails, 'invoice'>[]>`
    SELECT o.*,
      (SELECT json_build_object('id', p.id, 'charge_id', p.charge_id, 'amount_cents', p.amount_cents, 'created_at', p.created_at)
         FROM payments p WHERE p.order_id = o.id) AS payment,
      (SELECT json_build_object('id', d.id, 'courier', d.courier, 'dispatched_at', d.dispatched_at)
         FROM deliveries d WHERE d.order_id = o.id) AS delivery
    FROM orders o WHERE o.id = ${id}`;
  return row;
}

export interface OrderPageQuery {
  status?: OrderStatus | undefined;
  limit: number;
  // Keyset cursor: the (created_at, id) of the last order of the previous page.
  after?: { createdAt: Date; id: string } | undefined;
  // One customer's orders only (orders_customer_created_idx).
  customerId?: string | undefined;
}

// One page of orders, newest first.
export async function listOrders(db: Db, q: OrderPageQuery): Promise<OrderRow[]> {
  return db<OrderRow[]>`
    SELECT * FROM orders
    WHERE true
      ${q.customerId ? db`AND customer_id = ${q.customerId}` : db``}
      ${q.status ? db`AND status = ${q.status}` : db``}
      ${q.after ? db`AND (created_at, id) < (${q.after.createdAt}, ${q.after.id})` : db``}
    ORDER BY created_at DESC, id DESC
    LIMIT ${q.limit}`;
}

// Moves an order from one of `from` to `to`; returns false when the order was not in such a state.
export async function transitionOrder(db: Db, id: string, from: readonly OrderStatus[], to: OrderStatus): Promise<boolean> {
  const rows = await db`
    UPDATE orders SET status = ${to}, updated_at = now()
    WHERE id = ${id} AND status = ANY(${from as OrderStatus[]}::text[])
    RETURNING id`;
  return rows.length === 1;
}
