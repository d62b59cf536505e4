// Fault 9: SIGTERM to each role under load, as in a rolling deploy. Each stops cleanly within the
// grace period (exit 0: the grace timer exits 1) — the API after its in-flight requests, the relay
// after its batch, a worker after its active jobs — and is started again; nothing is lost. A second
// SIGTERM forces the exit at once, and the jobs it abandoned are recovered by another worker.
import { describe, expect, it } from 'vitest';
import { scaled, TEST_ADMIN_PASSWORD, waitFor } from '../support/context.ts';
import { staffHeaders } from '../support/system.ts';
import type { RoleName, RoleProcess } from './support/cluster.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const ORDERS = 100;
const GRACE_MS = 4000;
const suite = faultSuite({
  // Payments take a moment, so a worker always has some in hand when the signal comes.
  env: { SHUTDOWN_GRACE_MS: String(GRACE_MS), GATEWAY_LATENCY_MS: '200' },
  start: [['api'], ['api'], ['relay'], ['relay'], ['worker'], ['worker']],
});

// Orders from a careful client: on a refused connection or a 503 it retries, same Idempotency-Key,
// on the next API, so every order it means to place is placed once.
function drive(name: string) {
  const { cluster } = suite;
  return driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 30, name, retry: { maxAttempts: 40, pauseMs: 100 } });
}

// Four staff clients reading GET /orders back to back on their keep-alive connections, until stopped.
// Connection errors are expected once the API closes; answers must all be 200.
function readBackToBack(url: string) {
  let stop = false;
  const statuses: number[] = [];
  const loops = Array.from({ length: 4 }, async () => {
    while (!stop) {
      try {
        const res = await fetch(`${url}/orders?limit=1`, { headers: staffHeaders({ adminPassword: TEST_ADMIN_PASSWORD }), signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        statuses.push(res.status);
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // refused or reset: the API is going away
      }
    }
  });
  return {
    answered: () => statuses.length,
    async stop() {
      stop = true;
      await Promise.all(loops);
      return statuses;
    },
  };
}

async function settleAndCheck(name: string, accepted: string[]): Promise<void> {
  const { ctx, audit } = suite;
  const report = await settle(ctx, audit.queues);
  expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
  expect(await notExactlyOnce(ctx, accepted)).toEqual([]);
  // One order per order meant, however often the client had to retry.
  const [row] = await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE customer_name LIKE ${`${name} %`}`;
  expect(row!.n).toBe(ORDERS);
}

describe('SIGTERM under load', () => {
  it.each<RoleName>(['api', 'relay', 'worker'])(
    'stops the %s cleanly within the grace period, and nothing is lost',
    async (role) => {
      const { cluster, audit } = suite;
      const target = cluster.of(role)[0]!;
      const name = `Term ${role}`;
      const orders = drive(name);
      await waitFor('the first orders to be placed', () => orders.finished() >= 25);

      // A worker is signalled with payments in hand; an API with requests in progress on keep-alive
      // connections (clients reading orders back to back, as a busy front end would).
      if (role === 'worker') await waitFor('payments in progress', async () => (await audit.queues.payments.getActiveCount()) >= 2);
      const readers = role === 'api' ? readBackToBack(target.url) : undefined;
      if (readers) await waitFor('the readers to be busy', () => readers.answered() >= 20);
      let exit;
      let reads: number[] = [];
      try {
        exit = await cluster.sigterm(target);
      } finally {
        reads = (await readers?.stop()) ?? [];
      }
      expect(exit.code, target.output().slice(-2000)).toBe(0);
      expect(exit.ms).toBeLessThan(GRACE_MS);
      // Every read the stopping API took was answered; the others were refused or never taken.
      expect(reads.filter((s) => s !== 200)).toEqual([]);
      await cluster.restart(target);

      const result = await orders.done;
      expect(result.accepted).toHaveLength(ORDERS);
      await settleAndCheck(name, result.accepted);
      if (role === 'worker') {
        // The payments in hand at SIGTERM were finished, not abandoned: no payment of this run came
        // back from a stall (an abandoned job stalls once its lock runs out).
        const ours = new Set(result.accepted);
        const payments = (await audit.queues.payments.getJobs(['completed'], 0, -1)).filter((j) => ours.has(j.data.aggregateId));
        expect(payments).toHaveLength(ORDERS);
        expect(payments.filter((j) => j.stalledCounter > 0).map((j) => j.id)).toEqual([]);
      }
      const errors = result.attempts.flatMap((a) => (a.status === 'error' ? [a.error] : []));
      console.info(
        `${role}: SIGTERM → exit ${exit.code} in ${exit.ms} ms; client retries ${result.attempts.length - ORDERS} ${JSON.stringify(result.statuses)} ${[...new Set(errors)].join(', ')}`,
      );
    },
    90_000,
  );

  it(
    'exits at once on a second SIGTERM; the payments it abandoned are recovered by another worker',
    async () => {
      const { cluster, audit } = suite;
      // The only payments worker for now: slow, with a long grace, logging at info ("shutting down").
      const regular = cluster.of('worker').filter((w) => w.alive());
      for (const w of regular) expect((await cluster.sigterm(w)).code).toBe(0);
      const slow: RoleProcess = await cluster.start('worker', { WORKER_QUEUES: 'payments', GATEWAY_LATENCY_MS: '3000', SHUTDOWN_GRACE_MS: '60000', LOG_LEVEL: 'info' });
      const orders = drive('Forced');
      await waitFor('the slow worker to have payments in hand', async () => (await audit.queues.payments.getActiveCount()) >= 3);
      const abandoned = await audit.queues.payments.getActive();

      const exit = await cluster.sigterm(slow, { secondAfter: 'shutting down' });
      expect(exit.code).toBe(1);
      expect(slow.output()).toContain('second signal');
      expect(exit.ms).toBeLessThan(3000); // well before its payments (3 s) or its grace (60 s) were over
      // What it really abandoned: the jobs still active when it exited (on a busy machine one it
      // held when listed may have finished before the signals).
      const held = [];
      for (const job of abandoned) if ((await audit.queues.payments.getJob(job.id!))?.finishedOn === undefined) held.push(job);
      expect(held.length).toBeGreaterThan(0);

      for (const w of regular) await cluster.restart(w);
      const result = await orders.done;
      expect(result.accepted).toHaveLength(ORDERS);
      await settleAndCheck('Forced', result.accepted);
      // What it held was picked up again once its lock ran out, and done once.
      for (const job of held) {
        const after = await audit.queues.payments.getJob(job.id!);
        expect(await after!.getState()).toBe('completed');
        expect(after!.stalledCounter).toBeGreaterThan(0);
      }
    },
    scaled(90_000),
  );
});
