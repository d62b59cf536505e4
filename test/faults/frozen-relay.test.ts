// Fault: a relay freezes (SIGSTOP) after its addBulk reached Redis and before its transaction
// commits (FAULT_INJECTION relay-freeze-after-add, once), with its claimed rows still locked. The
// jobs it added are worked meanwhile; another relay publishes everything else around the locked
// rows (SKIP LOCKED). Woken (SIGCONT), the frozen relay commits its marks. Every order ends once,
// and nothing is published twice into a second effect.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const suite = faultSuite();

// The process state from /proc: 'T' while stopped.
const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0];

describe('a relay frozen between addBulk and its commit, then woken', () => {
  it(
    'leaves every order processed once',
    async () => {
      const { ctx, cluster, audit } = suite;
      const [, frozen] = await cluster.startMany([['api'], ['relay', { FAULT_INJECTION: 'relay-freeze-after-add:1' }], ['worker']]);
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: 150, ratePerSec: 30 });
      const pid = frozen!.child.proc.pid!;
      await waitFor('the relay to freeze after its first add', () => state(pid) === 'T' || undefined);
      try {
        // Its batch is in Redis and locked in Postgres: the rows it claimed are still unpublished.
        const locked = await waitFor('rows held by the frozen relay', async () => {
          const rows = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE published_at IS NULL FOR UPDATE SKIP LOCKED`;
          const [all] = await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`;
          return all!.n > rows.length ? all!.n - rows.length : undefined;
        });
        expect(locked).toBeGreaterThan(0);
        await cluster.start('relay');
        await waitFor('orders to be delivered while the first relay is frozen', async () => {
          const [row] = await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM orders WHERE status = 'delivered'`;
          return row!.n >= 30 || undefined;
        });
      } finally {
        frozen!.child.kill('SIGCONT');
      }
      const result = await drive.done;
      expect(result.statuses).toEqual({ 201: 150 });
      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      expect(cluster.crashes(), cluster.describe()).toBe(0);
    },
    scaled(120_000),
  );
});
