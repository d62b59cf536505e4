// The invoice service's statement pieces (its own table, in its own database or beside the
// order service's).
import type { Cte } from '../engine/index.ts';
import type { Db, Fragment } from '../db/client.ts';

// Whether this order already has an invoice (correlated on the engine's `e`).
export function invoiceContext(db: Db): Fragment {
  return db`SELECT number FROM invoices WHERE order_id = e.aggregate_id`;
}

// `invoice`: one per order, numbered from a sequence, once the inbox row is fresh.
export function insertInvoice(db: Db, i: { id: string; orderId: string; amountCents: number; customerName: string | null }): Cte {
  return [
    'invoice',
    db`INSERT INTO invoices (id, order_id, number, amount_cents, customer_name)
       SELECT ${i.id}, ${i.orderId}, 'INV-' || lpad(nextval('invoice_number_seq')::text, 8, '0'), ${i.amountCents}, ${i.customerName}
       FROM inbox
       ON CONFLICT (order_id) DO NOTHING
       RETURNING number`,
  ];
}

// The invoice of an order, or null: what the order service shows in GET /orders/:id, asked of the
// invoice service's database (its own, or the orders' one) rather than read from its table there.
export async function findInvoiceOfOrder(db: Db, orderId: string): Promise<{ id: string; number: string; amount_cents: number; created_at: string } | null> {
  const [row] = await db<{ invoice: { id: string; number: string; amount_cents: number; created_at: string } }[]>`
    SELECT json_build_object('id', id, 'number', number, 'amount_cents', amount_cents, 'created_at', created_at) AS invoice
    FROM invoices WHERE order_id = ${orderId}`;
  return row?.invoice ?? null;
}
