// The order service's step statements, as pieces the engine assembles into one statement with the
// inbox row and the next event (src/engine/step.ts): each effect below runs only when the inbox row
// was fresh, so a second delivery writes nothing. One statement is one transaction, one round trip.
import type { Cte } from '../engine/index.ts';
import type { Db, Fragment } from './client.ts';
import type { OrderStatus } from './orders.ts';

// The order a step works on, read with the event (correlated on the engine's `e`).
export interface OrderContext {
  status: OrderStatus;
  total_cents: number;
  customer_name: string;
  created_at: string; // JSON: an ISO timestamp
}

export function orderContext(db: Db): Fragment {
  return db`SELECT o.status, o.total_cents, o.customer_name, o.created_at FROM orders o WHERE o.id = e.aggregate_id`;
}

// `moved`: the order took status `to` from one of `from`, once the inbox row is fresh.
export function moveOrder(db: Db, orderId: string, from: readonly OrderStatus[], to: OrderStatus): Cte {
  return [
    'moved',
    db`UPDATE orders SET status = ${to}, updated_at = now()
       WHERE id = ${orderId} AND status = ANY(${from as OrderStatus[]}::text[]) AND EXISTS (SELECT 1 FROM inbox)
       RETURNING id`,
  ];
}

export function insertPayment(db: Db, p: { id: string; chargeId: string; amountCents: number }): Cte {
  return ['payment', db`INSERT INTO payments (id, order_id, charge_id, amount_cents) SELECT ${p.id}, id, ${p.chargeId}, ${p.amountCents} FROM moved`];
}

export function insertDelivery(db: Db, d: { id: string; courier: string }): Cte {
  return ['delivery', db`INSERT INTO deliveries (id, order_id, courier) SELECT ${d.id}, id, ${d.courier} FROM moved`];
}
