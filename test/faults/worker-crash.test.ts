// Fault 2: workers die by kill -9 in the middle of a payment — after the gateway charged, before the
// inbox transaction commits (FAULT_INJECTION after-charge, before-inbox-commit) — and are
// restarted. Their jobs stall, come back, and run again: the gateway's idempotency key (the
// message id) returns the first charge, so every order is charged once, always.
import { describe, expect, it } from 'vitest';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';
import { scaled } from '../support/context.ts';

const suite = faultSuite({
  env: {
    // A little gateway latency, so a crash finds other payments in flight too.
    GATEWAY_LATENCY_MS: '20',
    // A job may be caught in several crashes (every active job of a dying worker stalls); it
    // must come back each time rather than fail as "stalled more than allowable limit".
    WORKER_MAX_STALLED_COUNT: '20',
  },
  cluster: { maxCrashes: 10 },
});

describe('workers killed in the middle of a payment', () => {
  it(
    'charge every order once and finish every order',
    async () => {
      const { ctx, cluster, audit } = suite;
      const workers = await cluster
        .startMany([['api'], ['relay'], ['worker', { FAULT_INJECTION: 'after-charge:0.3' }], ['worker', { FAULT_INJECTION: 'after-charge:0.2,before-inbox-commit:0.2' }]])
        .then((p) => p.slice(2));
      // Orders a few dozen at a time, while the workers are up, until each has died at its crash
      // points twice (a bounded number of rounds).
      const accepted: string[] = [];
      for (let round = 0; round < 10 && (accepted.length < 100 || workers.some((w) => w.crashes < 2)); round++) {
        await Promise.all(workers.map((w) => cluster.waitReady(w)));
        const chunk = await driveOrders({ urls: () => cluster.apiUrls(), count: 50, ratePerSec: 40, name: `Crash${round}` }).done;
        expect(chunk.statuses).toEqual({ 201: 50 });
        accepted.push(...chunk.accepted);
      }
      cluster.calmDown();
      for (const w of workers) expect(w.crashes).toBeGreaterThanOrEqual(2);

      const report = await settle(ctx, audit.queues, 90_000);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, accepted)).toEqual([]);
      const [charges] = await ctx.sql<{ n: number; orders: number }[]>`SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS orders FROM gateway_charges`;
      expect(charges).toEqual({ n: accepted.length, orders: accepted.length });

      // Some payments ran again after a crash (a stalled job came back).
      const payments = await audit.queues.payments.getJobs(['completed'], 0, -1);
      const rerun = payments.filter((j) => j.stalledCounter > 0 || j.attemptsStarted > 1);
      expect(rerun.length).toBeGreaterThan(0);
      // Among them, payments whose charge an earlier run made before it died (the charge is older
      // than the run that completed the job): the retry got that charge back, not a second one.
      // worker#3 dies only after a charge, so each of its crashes leaves at least one such order.
      const charged = await ctx.sql<{ id: string; at: Date }[]>`
      SELECT idempotency_key AS id, created_at AS at FROM gateway_charges WHERE idempotency_key = ANY(${rerun.map((j) => j.id!)}::uuid[])`;
      const chargedAt = new Map(charged.map((c) => [c.id, c.at.getTime()]));
      const chargedBeforeLastRun = rerun.filter((j) => (chargedAt.get(j.id!) ?? Infinity) < j.processedOn!);
      expect(chargedBeforeLastRun.length).toBeGreaterThan(0);
      console.info(
        `workers: ${workers.map((w) => `${w.name} ${w.crashes} crashes`).join(', ')}; ${rerun.length} payment jobs ran again after a crash, ` +
          `${chargedBeforeLastRun.length} of them charged before the crash and not again`,
      );
    },
    scaled(150_000),
  );
});
