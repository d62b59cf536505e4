// What the order routes need from the database, as narrow functions so the HTTP layer can be
// unit-tested without one.
import { randomUUID } from 'node:crypto';
import type { Db, Sql } from '../db/client.ts';
import { completeIdempotencyKey } from '../db/idempotency.ts';
import { findOrderDetails, insertOrderWithEvent, listOrders, type OrderDetails, type OrderPageQuery, type OrderRow, type PlacedOrder } from '../db/orders.ts';
import { createGroupCommit, type EventHeaders, type OutboxEngine } from '../engine/index.ts';
import { createIdempotencyKeys, type KeyClaim } from './idempotency.ts';
import type { OrderEventType } from '../orders/topology.ts';
import type { CreateOrderInput } from './schemas.ts';

// With an Idempotency-Key, the response is stored in the order's own transaction.
export interface KeyedResponse {
  key: string;
  respond: (order: OrderRow) => { status: number; body: unknown };
}

export interface OrderStore {
  place(input: CreateOrderInput, headers: EventHeaders, keyed?: KeyedResponse): Promise<PlacedOrder>;
  claimKey(key: string, requestHash: string): Promise<KeyClaim>;
  releaseKey(key: string): Promise<void>;
  find(id: string): Promise<OrderDetails | undefined>;
  list(query: { status?: OrderRow['status'] | undefined; limit: number; cursor?: string | undefined }): Promise<OrderRow[]>;
}

export function totalCents(input: CreateOrderInput): number {
  return input.items.reduce((sum, item) => sum + item.quantity * item.unit_price_cents, 0);
}

// The engine parts the order store uses: the outbox insert for its one-statement order write, and
// the relay wake-up after the commit (in-process hand-off or a coalesced NOTIFY).
export type OrderOutbox = Pick<OutboxEngine<OrderEventType>, 'newEvent' | 'eventInsert' | 'wakeRelay'>;

// `invoiceOf` asks the invoice service for an order's invoice (it may keep its own database).
// `groupCommit` (default on): orders without an Idempotency-Key placed at the same moment commit
// in one transaction, each still its own statement with its own answer (engine/group-commit.ts).
// A keyed order keeps a transaction of its own, so a key conflict concerns it alone.
export function createOrderStore(
  sql: Sql,
  outbox: OrderOutbox,
  options: {
    idempotencyKeyTtlS?: number;
    invoiceOf?: (orderId: string) => Promise<OrderDetails['invoice']>;
    groupCommit?: false | { onBatch?: (size: number) => void };
  } = {},
): OrderStore {
  const { idempotencyKeyTtlS = 86400, invoiceOf = async () => null, groupCommit = {} } = options;
  const keys = createIdempotencyKeys(sql, idempotencyKeyTtlS);
  const together = groupCommit ? createGroupCommit(sql, groupCommit.onBatch) : undefined;
  const insertOrder = (db: Db, input: CreateOrderInput, headers: EventHeaders): Promise<PlacedOrder> => {
    const orderId = randomUUID();
    const total = totalCents(input);
    const event = outbox.newEvent('order.created', { type: 'order', id: orderId }, { order_id: orderId, total_cents: total }, headers);
    const order = { id: orderId, customer_name: input.customer_name, address: input.address, items: input.items, total_cents: total };
    return insertOrderWithEvent(db, order, outbox.eventInsert(db, event), db === sql ? together : undefined);
  };
  return {
    async place(input, headers, keyed) {
      const order = keyed
        ? await sql.begin(async (tx) => {
            const placed = await insertOrder(tx, input, headers);
            const response = keyed.respond(placed);
            await completeIdempotencyKey(tx, keyed.key, response.status, response.body);
            return placed;
          })
        : await insertOrder(sql, input, headers);
      outbox.wakeRelay();
      return order;
    },
    claimKey: (key, hash) => keys.claim(key, hash),
    releaseKey: (key) => keys.release(key),
    async find(id) {
      const [order, invoice] = await Promise.all([findOrderDetails(sql, id), invoiceOf(id)]);
      return order && { ...order, invoice };
    },
    async list({ status, limit, cursor }) {
      let after: OrderPageQuery['after'];
      if (cursor) {
        const [last] = await sql<{ created_at: Date; id: string }[]>`SELECT created_at, id FROM orders WHERE id = ${cursor}`;
        if (!last) return [];
        after = { createdAt: last.created_at, id: last.id };
      }
      return listOrders(sql, { status, limit, after });
    },
  };
}
