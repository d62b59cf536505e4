// The peer's flow on graphile-worker: the order transaction enqueues `pay`; `pay` marks the order
// paid, records the payment and enqueues `deliver`, in one transaction; `deliver` marks it
// delivered and records the delivery. Each step is one statement (one round trip, one commit) on
// the project's own tables; graphile-worker then completes the job in its own statement.
import type { TaskList } from 'graphile-worker';
import type { MarkKind } from '../../lib/tracker.ts';

export const PLACE_ORDER_SQL = `
  WITH placed AS (
    INSERT INTO orders (id, customer_name, address, items, total_cents)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING id
  )
  SELECT graphile_worker.add_job('pay', json_build_object('order_id', placed.id)) FROM placed`;

const PAY_SQL = `
  WITH paid AS (
    UPDATE orders SET status = 'paid', updated_at = now()
    WHERE id = $1 AND status = 'pending_payment'
    RETURNING id, total_cents
  ), payment AS (
    INSERT INTO payments (id, order_id, charge_id, amount_cents)
    SELECT gen_random_uuid(), id, gen_random_uuid(), total_cents FROM paid
  )
  SELECT graphile_worker.add_job('deliver', json_build_object('order_id', paid.id)) FROM paid`;

const DELIVER_SQL = `
  WITH delivered AS (
    UPDATE orders SET status = 'delivered', updated_at = now()
    WHERE id = $1 AND status = 'paid'
    RETURNING id
  )
  INSERT INTO deliveries (id, order_id, courier) SELECT gen_random_uuid(), id, 'Ada' FROM delivered`;

export function createTasks(mark: (kind: MarkKind, orderId: string) => void): TaskList {
  const orderId = (payload: unknown) => (payload as { order_id: string }).order_id;
  return {
    pay: async (payload, helpers) => {
      mark('pay', orderId(payload));
      await helpers.query(PAY_SQL, [orderId(payload)]);
    },
    deliver: async (payload, helpers) => {
      await helpers.query(DELIVER_SQL, [orderId(payload)]);
      mark('delivered', orderId(payload));
    },
  };
}
