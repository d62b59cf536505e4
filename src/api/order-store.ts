// What the order routes need from the database, as narrow functions so the HTTP layer can be
// unit-tested without one.
import { randomUUID } from 'node:crypto';
import type { Db, Fragment, Sql } from '../db/client.ts';
import { findOrderDetails, insertOrderWithEvent, listOrders, type OrderDetails, type OrderItem, type OrderPageQuery, type OrderRow, type PlacedOrder } from '../db/orders.ts';
import { createGroupCommit, DeadlinePassed, type EventHeaders, type GroupCommit, type OutboxEngine } from '../engine/index.ts';
import { withIdempotencyKey, type KeyedRequest, type KeyOutcome } from './idempotency.ts';
import { menuFromDatabase, type Menu } from './menu.ts';
import { ProblemError } from './problem.ts';
import type { OrderEventType } from '../orders/topology.ts';

// An order as the route has priced it (items at the menu's prices), with its owner: a customer,
// or the hash of the access token that its anonymous 201 carries.
export interface OrderToPlace {
  customer_name: string;
  address: string;
  items: OrderItem[];
  total_cents: number;
  customerId?: string | undefined;
  accessTokenHash?: Buffer | undefined;
}

// With an Idempotency-Key: the key, and the response to store with it in the order's transaction.
export interface KeyedResponse extends KeyedRequest {
  respond: (order: OrderRow) => { status: number; body: unknown };
}

export interface OrderListQuery {
  status?: OrderRow['status'] | undefined;
  limit: number;
  cursor?: string | undefined;
  // Only this customer's orders (a customer's list); all orders when left out (staff).
  customerId?: string | undefined;
}

export interface OrderStore {
  menu: Menu;
  place(order: OrderToPlace, headers: EventHeaders): Promise<PlacedOrder>;
  placeKeyed(order: OrderToPlace, headers: EventHeaders, keyed: KeyedResponse): Promise<KeyOutcome<PlacedOrder>>;
  find(id: string): Promise<OrderDetails | undefined>;
  list(query: OrderListQuery): Promise<OrderRow[]>;
}

// The engine parts the order store uses: the outbox insert for its one-statement order write, and
// the relay wake-up after the commit (in-process hand-off or a coalesced NOTIFY).
export type OrderOutbox = Pick<OutboxEngine<OrderEventType>, 'newEvent' | 'eventInsert' | 'wakeRelay'>;

// `invoiceOf` asks the invoice service for an order's invoice (it may keep its own database).
// `groupCommit` (default on): orders without an Idempotency-Key placed at the same moment commit
// in one transaction, each still its own statement with its own answer (engine/group-commit.ts).
// A keyed order keeps a transaction of its own, so a key conflict concerns it alone; it runs
// within `keyedBudgetMs` (src/api/idempotency.ts). `menu`: the prices (default: the menu table,
// cached for `menuCacheTtlMs`).
export function createOrderStore(
  sql: Sql,
  outbox: OrderOutbox,
  options: {
    idempotencyKeyTtlS?: number;
    keyedBudgetMs?: number;
    menu?: Menu;
    menuCacheTtlMs?: number;
    invoiceOf?: (orderId: string) => Promise<OrderDetails['invoice']>;
    groupCommit?: false | { onBatch?: (size: number) => void };
  } = {},
): OrderStore {
  const { idempotencyKeyTtlS = 86400, keyedBudgetMs = 9000, invoiceOf = async () => null, groupCommit = {} } = options;
  const menu = options.menu ?? menuFromDatabase(sql, options.menuCacheTtlMs ?? 5000);
  const together = groupCommit ? createGroupCommit(sql, groupCommit.onBatch) : undefined;
  const insertOrder = (db: Db, order: OrderToPlace, headers: EventHeaders): Promise<PlacedOrder> => {
    const orderId = randomUUID();
    const event = outbox.newEvent('order.created', { type: 'order', id: orderId }, { order_id: orderId, total_cents: order.total_cents }, headers);
    const row = {
      id: orderId,
      customer_name: order.customer_name,
      address: order.address,
      items: order.items,
      total_cents: order.total_cents,
      customer_id: order.customerId ?? null,
      access_token_hash: order.accessTokenHash ?? null,
    };
    return insertOrderWithEvent(db, row, outbox.eventInsert(db, event), db === sql ? inTime(together) : undefined);
  };
  // An unkeyed order still queued for its group commit once its request's budget is spent is never
  // sent: its caller has its 503, and abandoned work must not take the capacity of live requests.
  const inTime = (run: GroupCommit | undefined) =>
    run &&
    ((s: { fragment: Fragment }) => {
      const deadline = performance.now() + keyedBudgetMs;
      return run<PlacedOrder>({ ...s, deadline }).catch((err: unknown) => {
        if (err instanceof DeadlinePassed)
          throw new ProblemError(503, 'Request timed out', 'The order waited too long to be stored and was not stored. Retry it, with an Idempotency-Key to be safe.', {
            'retry-after': '1',
          });
        throw err;
      });
    });
  return {
    menu,
    async place(order, headers) {
      const placed = await insertOrder(sql, order, headers);
      outbox.wakeRelay();
      return placed;
    },
    async placeKeyed(order, headers, keyed) {
      const outcome = await withIdempotencyKey(sql, keyed, { ttlS: idempotencyKeyTtlS, budgetMs: keyedBudgetMs }, (tx) => insertOrder(tx, order, headers), keyed.respond);
      if (outcome.kind === 'done') outbox.wakeRelay();
      return outcome;
    },
    async find(id) {
      const [order, invoice] = await Promise.all([findOrderDetails(sql, id), invoiceOf(id)]);
      return order && { ...order, invoice };
    },
    async list({ status, limit, cursor, customerId }) {
      let after: OrderPageQuery['after'];
      if (cursor) {
        const [last] = await sql<{ created_at: Date; id: string }[]>`SELECT created_at, id FROM orders WHERE id = ${cursor}`;
        if (!last) return [];
        after = { createdAt: last.created_at, id: last.id };
      }
      return listOrders(sql, { status, limit, after, customerId });
    },
  };
}
