// Fault 6: poison outbox rows — an event type routed nowhere, a payload over RELAY_MAX_PAYLOAD_BYTES —
// written (as another service might) while orders flow. The relay records attempts and the reason,
// marks them dead after RELAY_MAX_ATTEMPTS, and keeps publishing the rows behind them meanwhile.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const ORDERS = 150;
// Three tries, 1 s then 2 s apart: a poison row is retried for 3 s before it is dead.
const suite = faultSuite({ env: { RELAY_MAX_ATTEMPTS: '3', RELAY_RETRY_BASE_MS: '1000', RELAY_MAX_PAYLOAD_BYTES: '2048' } });

describe('poison outbox rows among the orders', () => {
  it(
    'are marked dead with their reason and do not hold back the rows behind them',
    async () => {
      const { ctx, cluster, audit } = suite;
      await cluster.startMany([['api'], ['relay'], ['worker']]);
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 40 });
      await waitFor('the first orders to be placed', () => drive.finished() >= 30);

      const unroutable = randomUUID();
      const oversized = randomUUID();
      await ctx.sql`INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
      (${unroutable}, 'order', gen_random_uuid(), 'order.teleported', '{}'),
      (${oversized}, 'order', gen_random_uuid(), 'order.created', ${ctx.sql.json({ blob: 'x'.repeat(4096) })})`;

      const result = await drive.done;
      expect(result.statuses).toEqual({ 201: ORDERS });
      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 2 });
      expect(report.items.stuck.map((i) => [i.kind, i.outboxId]).sort()).toEqual(
        [
          ['outbox_dead', oversized],
          ['outbox_dead', unroutable],
        ].sort(),
      );
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);

      const poison = await ctx.sql<{ id: string; attempts: number; last_error: string; published_at: Date | null; dead_at: Date; created_at: Date }[]>`
      SELECT id, attempts, last_error, published_at, dead_at, created_at FROM outbox WHERE id IN (${unroutable}, ${oversized})`;
      for (const row of poison) {
        expect(row.attempts).toBe(3);
        expect(row.published_at).toBeNull();
        expect(row.dead_at).not.toBeNull();
      }
      expect(poison.find((r) => r.id === unroutable)!.last_error).toContain('no route for event type "order.teleported"');
      expect(poison.find((r) => r.id === oversized)!.last_error).toContain('over RELAY_MAX_PAYLOAD_BYTES (2048)');
      expect(await audit.queues.payments.getJob(oversized)).toBeUndefined();

      // Rows written after the poison were published while it was still being retried, not after it died.
      const [behind] = await ctx.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM outbox
      WHERE event_type = 'order.created' AND created_at > ${poison[0]!.created_at} AND published_at < ${poison[0]!.dead_at}
        AND id NOT IN (${unroutable}, ${oversized})`;
      expect(behind!.n).toBeGreaterThan(20);
    },
    scaled(90_000),
  );
});
