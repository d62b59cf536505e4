// Fault 7: transactions commit out of order. A long transaction writes an order (and its event,
// stamped with the transaction's start time) and holds it while dozens of later orders commit and
// are published; when it finally commits, its row is still published — rows are claimed by state,
// not by "after the last one seen" — and the order is delivered like the others.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { insertOrderWithEvent, type PlacedOrder } from '../../src/db/orders.ts';
import { eventInsert, newEvent } from '../../src/engine/events.ts';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const ORDERS = 150;
const DRIVEN = 'Later'; // the driver's orders are named `Later <n>`
const suite = faultSuite();

describe('a transaction that commits after later ones', () => {
  it(
    'still has its row published and its order delivered',
    async () => {
      const { ctx, cluster, audit } = suite;
      await cluster.startMany([['api'], ['relay'], ['worker']]);
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 40, name: DRIVEN });
      await waitFor('the first orders to be placed', () => drive.finished() >= 20);

      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let early: PlacedOrder | undefined;
      const longTx = ctx.sql.begin(async (tx) => {
        const orderId = randomUUID();
        early = await insertOrderWithEvent(
          tx,
          {
            id: orderId,
            customer_name: 'Late Committer',
            address: '1 Slow Rd',
            items: [{ flavor: 'Funghi', size: 'large', quantity: 1, unit_price_cents: 1450 }],
            total_cents: 1450,
          },
          eventInsert(tx, newEvent('order.created', { type: 'order', id: orderId }, { order_id: orderId, total_cents: 1450 })),
        );
        await held;
      });
      await waitFor('the long transaction to write its row', () => early);
      try {
        // The driver's orders only (its ids are known when it is done; their names are known now).
        await waitFor(
          '40 later orders to be published meanwhile',
          async () => {
            const [row] = await ctx.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM outbox e JOIN orders o ON o.id = e.aggregate_id
          WHERE o.customer_name LIKE ${`${DRIVEN} %`} AND e.event_type = 'order.created'
            AND e.created_at > ${early!.created_at} AND e.published_at IS NOT NULL`;
            return row!.n >= 40;
          },
          30_000,
        );
      } finally {
        release();
        await longTx;
      }

      const result = await drive.done;
      expect(result.statuses).toEqual({ 201: ORDERS });
      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, [...result.accepted, early!.id])).toEqual([]);

      // Its row is older than the rows published before it: it was found by its state after the commit.
      const [late] = await ctx.sql<{ created_at: Date; published_at: Date }[]>`SELECT created_at, published_at FROM outbox WHERE id = ${early!.event_id}`;
      const [earlier] = await ctx.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM outbox
      WHERE aggregate_id = ANY(${result.accepted}::uuid[]) AND created_at > ${late!.created_at} AND published_at < ${late!.published_at}`;
      expect(earlier!.n).toBeGreaterThanOrEqual(40);
    },
    scaled(90_000),
  );
});
