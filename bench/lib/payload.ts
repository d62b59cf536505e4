// The one order every figure uses: the same body over HTTP, the same rows in the baselines'
// transaction, the same job data in the bare BullMQ baselines.
import { randomBytes, randomUUID } from 'node:crypto';
import type { CreateOrderInput } from '../../src/api/schemas.ts';
import type { OrderToPlace } from '../../src/api/order-store.ts';
import { eventHeadersFor } from '../../src/api/trace.ts';
import type { OutboxRow } from '../../src/db/outbox.ts';
import { createSigner } from '../../src/engine/signing.ts';

// At the menu's price (sql/orders/0002_customers_menu.sql: a medium Margherita is 1250 cents);
// the API would refuse any other with a 422.
const ITEM = { flavor: 'Margherita', size: 'medium', quantity: 2, unit_price_cents: 1250 } as const;
export const ORDER_BODY: CreateOrderInput = {
  customer_name: 'Bench Customer',
  address: '1 Benchmark Way, Springfield',
  items: [ITEM],
};

export const ORDER_TOTAL = ITEM.quantity * ITEM.unit_price_cents;

// The same order as the API's store takes it once priced (the baselines call the store directly).
export const ORDER_TO_PLACE: OrderToPlace = { customer_name: ORDER_BODY.customer_name, address: ORDER_BODY.address, items: [ITEM], total_cents: ORDER_TOTAL };

// An outbox row as the API writes it for one order (what the relay reads back and turns into a job).
export function orderCreatedRow(): OutboxRow {
  const orderId = randomUUID();
  const payload = { order_id: orderId, total_cents: ORDER_TOTAL };
  const headers = eventHeadersFor(undefined, undefined) as Record<string, string>;
  return {
    id: randomUUID(),
    aggregate_type: 'order',
    aggregate_id: orderId,
    event_type: 'order.created',
    payload,
    headers,
    created_at: new Date(),
    attempts: 0,
    payload_bytes: JSON.stringify(payload).length,
  };
}

// The relay signs every job it adds (src/engine/signing.ts, with its database's key): the bare
// BullMQ baselines sign theirs alike, with a key of their own, so their job data is the relay's,
// signature included (jobFor(row, BENCH_SIGNER)).
export const BENCH_SIGNER = createSigner([randomBytes(32).toString('base64url')]);

// SQL that fills the outbox with `n` such rows in one statement (the relay-drain backlogs).
export const BACKLOG_SQL = `
  INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers, created_at)
  SELECT gen_random_uuid(), 'order', s.oid, 'order.created',
         jsonb_build_object('order_id', s.oid, 'total_cents', ${ORDER_TOTAL}),
         jsonb_build_object('traceparent', '00-' || md5(s.oid::text) || '-' || substr(md5(s.g::text), 1, 16) || '-01',
                            'correlation_id', gen_random_uuid()),
         now() + s.g * interval '1 microsecond'
  FROM (SELECT g, gen_random_uuid() AS oid FROM generate_series(1, $1::int) AS g) AS s`;
