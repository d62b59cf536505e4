// The invoice service as a process of its own on its own database (INVOICES_DATABASE_URL), killed
// by kill -9 in the middle of a run: at its crash point before the inbox commit and from outside.
// It is restarted each time; afterwards every paid order has exactly one invoice, in its database.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const suite = faultSuite({ servers: { separateInvoices: true }, env: { WORKER_MAX_STALLED_COUNT: '20' }, cluster: { maxCrashes: 12 } });

describe('the invoice service killed while it bills', () => {
  it(
    'bills every paid order once, in its own database',
    async () => {
      const { ctx, cluster, audit } = suite;
      const [, , , invoices] = await cluster.startMany([
        ['api'],
        ['relay'],
        ['worker', { WORKER_QUEUES: 'payments,deliveries' }],
        ['worker', { WORKER_QUEUES: 'invoices', FAULT_INJECTION: 'before-inbox-commit:0.05' }],
      ]);
      const run = driveOrders({ urls: () => cluster.apiUrls(), count: 150, ratePerSec: 40, name: 'Billed' });
      for (let kills = 0; kills < 2; kills++) {
        await cluster.waitReady(invoices!);
        await sleep(300 + Math.random() * 700); // a random moment of this incarnation
        const before = invoices!.crashes;
        cluster.kill9(invoices!);
        // The kill counts once its exit is recorded (asynchronously); wait for it, not for luck.
        await waitFor('the killed invoice process to be seen exiting', () => invoices!.crashes > before);
      }
      const result = await run.done;
      expect(result.statuses).toEqual({ 201: 150 });
      cluster.calmDown();
      expect(invoices!.crashes).toBeGreaterThanOrEqual(2);

      const report = await settle(ctx, audit.queues, 90_000);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      const [billed] = await ctx.invoicesSql<{ n: number; orders: number }[]>`
      SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders FROM invoices WHERE order_id = ANY(${result.accepted}::uuid[])`;
      expect(billed).toEqual({ n: result.accepted.length, orders: result.accepted.length });
      console.info(`invoice service: ${invoices!.crashes} crashes, ${billed!.n} invoices for ${result.accepted.length} orders`);
    },
    scaled(150_000),
  );
});
