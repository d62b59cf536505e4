// Query functions for the workers' steps. Each step reads what it needs in one statement and
// records its whole effect in one statement: the inbox row, the effect, the order's new status and
// the next event commit together (a single statement is a single transaction), in one round trip.
import { routeFor } from '../events/routing.ts';
import type { Db } from './client.ts';
import type { OrderStatus } from './orders.ts';

export interface StepInput {
  event_id: string;
  event_type: string;
  headers: Record<string, string>;
  order_id: string | null; // null when the event names an order that does not exist
  status: OrderStatus | null;
  total_cents: number | null;
  created_at: Date | null;
  paid_cents: number | null;
  invoiced: boolean;
  processed: boolean; // this consumer already recorded the event in its inbox
}

// The event a job names, as the database knows it, with its order and what `consumer` has done.
export async function loadStepInput(db: Db, eventId: string, consumer: string): Promise<StepInput | undefined> {
  const [row] = await db<StepInput[]>`
    SELECT e.id AS event_id, e.event_type, e.headers,
           o.id AS order_id, o.status, o.total_cents, o.created_at,
           (SELECT p.amount_cents FROM payments p WHERE p.order_id = o.id) AS paid_cents,
           EXISTS (SELECT 1 FROM invoices i WHERE i.order_id = o.id) AS invoiced,
           EXISTS (SELECT 1 FROM processed_messages m WHERE m.consumer = ${consumer} AND m.message_id = e.id) AS processed
    FROM outbox e LEFT JOIN orders o ON o.id = e.aggregate_id
    WHERE e.id = ${eventId}`;
  return row;
}

export interface NextEvent {
  id: string;
  type: string;
  payload: unknown;
  headers: Record<string, string>;
}

export interface StepOutcome {
  fresh: boolean; // false: the inbox already had this message, nothing was written
  moved: boolean; // the order was in one of `from` and took the new status
}

interface Transition {
  consumer: string;
  messageId: string;
  orderId: string;
  from: readonly OrderStatus[];
  to: OrderStatus;
  next: NextEvent;
}

// An event routed nowhere is written published and confirmed: there is nothing for the relay to do.
const settledAt = (db: Db, type: string) => (routeFor(type)?.length === 0 ? db`now()` : db`NULL::timestamptz`);

// payments: inbox, payments row, status 'paid', order.paid — all or nothing.
export async function recordPayment(db: Db, t: Transition & { paymentId: string; chargeId: string; amountCents: number }): Promise<StepOutcome> {
  const [row] = await db<StepOutcome[]>`
    WITH inbox AS (
      INSERT INTO processed_messages (consumer, message_id) VALUES (${t.consumer}, ${t.messageId})
      ON CONFLICT DO NOTHING RETURNING message_id
    ), moved AS (
      UPDATE orders SET status = ${t.to}, updated_at = now()
      WHERE id = ${t.orderId} AND status = ANY(${t.from as OrderStatus[]}::text[]) AND EXISTS (SELECT 1 FROM inbox)
      RETURNING id
    ), payment AS (
      INSERT INTO payments (id, order_id, charge_id, amount_cents)
      SELECT ${t.paymentId}, id, ${t.chargeId}, ${t.amountCents} FROM moved
    ), event AS (
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers, published_at, confirmed_at)
      SELECT ${t.next.id}, 'order', id, ${t.next.type}, ${db.json(t.next.payload as never)}, ${db.json(t.next.headers)},
             ${settledAt(db, t.next.type)}, ${settledAt(db, t.next.type)}
      FROM moved
    )
    SELECT EXISTS (SELECT 1 FROM inbox) AS fresh, EXISTS (SELECT 1 FROM moved) AS moved`;
  return row!;
}

// deliveries: inbox, deliveries row, status 'delivered', order.delivered — all or nothing.
export async function recordDelivery(db: Db, t: Transition & { deliveryId: string; courier: string }): Promise<StepOutcome> {
  const [row] = await db<StepOutcome[]>`
    WITH inbox AS (
      INSERT INTO processed_messages (consumer, message_id) VALUES (${t.consumer}, ${t.messageId})
      ON CONFLICT DO NOTHING RETURNING message_id
    ), moved AS (
      UPDATE orders SET status = ${t.to}, updated_at = now()
      WHERE id = ${t.orderId} AND status = ANY(${t.from as OrderStatus[]}::text[]) AND EXISTS (SELECT 1 FROM inbox)
      RETURNING id
    ), delivery AS (
      INSERT INTO deliveries (id, order_id, courier) SELECT ${t.deliveryId}, id, ${t.courier} FROM moved
    ), event AS (
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers, published_at, confirmed_at)
      SELECT ${t.next.id}, 'order', id, ${t.next.type}, ${db.json(t.next.payload as never)}, ${db.json(t.next.headers)},
             ${settledAt(db, t.next.type)}, ${settledAt(db, t.next.type)}
      FROM moved
    )
    SELECT EXISTS (SELECT 1 FROM inbox) AS fresh, EXISTS (SELECT 1 FROM moved) AS moved`;
  return row!;
}

// invoices: inbox and the invoice (one per order, numbered from a sequence) — together.
export async function recordInvoice(
  db: Db,
  i: { consumer: string; messageId: string; orderId: string; invoiceId: string; amountCents: number },
): Promise<{ fresh: boolean; number: string | null }> {
  const [row] = await db<{ fresh: boolean; number: string | null }[]>`
    WITH inbox AS (
      INSERT INTO processed_messages (consumer, message_id) VALUES (${i.consumer}, ${i.messageId})
      ON CONFLICT DO NOTHING RETURNING message_id
    ), invoice AS (
      INSERT INTO invoices (id, order_id, number, amount_cents)
      SELECT ${i.invoiceId}, ${i.orderId}, 'INV-' || lpad(nextval('invoice_number_seq')::text, 8, '0'), ${i.amountCents}
      FROM inbox
      ON CONFLICT (order_id) DO NOTHING
      RETURNING number
    )
    SELECT EXISTS (SELECT 1 FROM inbox) AS fresh, (SELECT number FROM invoice) AS number`;
  return row!;
}
