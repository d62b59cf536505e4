// Fault: a worker freezes (SIGSTOP) while it holds active jobs, for longer than its lock
// (WORKER_LOCK_DURATION_MS), so another worker takes its jobs over as stalled and finishes them;
// then it wakes up (SIGCONT) in the middle of its steps. Every order is still charged, paid,
// delivered and invoiced once, and the woken worker neither crashes nor floods its log.
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const suite = faultSuite({
  env: {
    // Payments take a while, so the worker is frozen with several in hand.
    GATEWAY_LATENCY_MS: '200',
    WORKER_LOCK_DURATION_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    WORKER_MAX_STALLED_COUNT: '5',
  },
});

describe('a worker frozen with active jobs, then woken', () => {
  it(
    'has its jobs taken over, and changes nothing a second time when it wakes',
    async () => {
      const { ctx, cluster, audit } = suite;
      const frozen = (await cluster.startMany([['api'], ['relay'], ['worker']]))[2]!;
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: 200, ratePerSec: 25 });
      const held = await waitFor('payments in the worker’s hands', async () => {
        const jobs = await audit.queues.payments.getJobs(['active']);
        return jobs.length >= 3 ? jobs.map((j) => j.id!) : undefined;
      });
      frozen.child.kill('SIGSTOP');
      try {
        await cluster.start('worker');
        // The fault happened: jobs the frozen worker held were finished by the other one while it slept.
        await waitFor(
          'the frozen worker’s payments to be finished by the other worker',
          async () => (await Promise.all(held.map((id) => audit.queues.payments.getJobState(id)))).every((s) => s === 'completed') || undefined,
          60_000,
        );
      } finally {
        frozen.child.kill('SIGCONT');
      }
      const result = await drive.done;
      expect(result.statuses).toEqual({ 201: 200 });

      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      expect(cluster.crashes(), cluster.describe()).toBe(0);
      // No error storm from the woken worker: a line or so per job it had in hand, not one per retry.
      const errorLines = frozen
        .output()
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l));
      console.info(`woken worker: ${errorLines.length} warning/error lines\n${errorLines.slice(0, 5).join('\n')}`);
      expect(errorLines.length).toBeLessThanOrEqual(3 * 16 + 5);
      // …and it says what happened: its locks were lost, not Redis.
      expect(frozen.output()).not.toContain('cannot reach Redis');
    },
    scaled(150_000),
  );
});
