// Fault 10: jobs edited and forged from the dashboard (Bull Board's API on a running api process),
// with amounts that do not match their orders. Workers trust the database, not the job: every
// order is charged its own total, once. The audit names the forged jobs as unexpected; once an
// operator removed them, it is clean.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit/audit.ts';
import type { OutboxJobData } from '../../src/engine/index.ts';
import { scaled, TEST_ADMIN_PASSWORD, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { LOCK_DURATION_MS } from './support/env.ts';
import { faultSuite } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, pendingJobs, settle } from './support/settle.ts';

const FIRST = 20;
const SECOND = 100;
const auth = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' };
const suite = faultSuite();

describe('jobs forged or edited from the dashboard', () => {
  it(
    'change nothing the database does not say: each order charged its own total, once',
    async () => {
      const { ctx, cluster, audit } = suite;
      const [api] = await cluster.startMany([['api'], ['relay']]); // no worker yet: the jobs wait
      const board = `${api!.url}/admin/queues/api/queues/payments`;
      const first = await driveOrders({ urls: () => cluster.apiUrls(), count: FIRST, ratePerSec: 40, name: 'Edited' }).done;
      expect(first.statuses).toEqual({ 201: FIRST });
      const events = await ctx.sql<{ id: string; order_id: string }[]>`
      SELECT id, aggregate_id AS order_id FROM outbox WHERE event_type = 'order.created' AND aggregate_id = ANY(${first.accepted}::uuid[]) ORDER BY created_at`;
      await waitFor('the first jobs to wait in payments', async () => (await audit.queues.payments.getWaitingCount()) === FIRST);

      // Edited: five waiting jobs now claim a one-cent total and another order.
      const edited = events.slice(0, 5);
      for (const [i, e] of edited.entries()) {
        const job = await audit.queues.payments.getJob(e.id);
        const jobData: OutboxJobData = { ...job!.data, aggregateId: events[i + 5]!.order_id, payload: { order_id: events[i + 5]!.order_id, total_cents: 1 } };
        const res = await fetch(`${board}/${e.id}/update-data`, { method: 'PATCH', headers: auth, body: JSON.stringify({ jobData }) });
        expect(res.status).toBe(200);
      }
      // Forged: a job naming an event that does not exist, and one naming a real event under another job id.
      const add = async (data: OutboxJobData) => {
        const res = await fetch(`${board}/add`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'order.created', data, options: { attempts: 1 } }) });
        expect(res.status).toBe(200);
        return String(((await res.json()) as { job: { id: string } }).job.id);
      };
      const victim = events[10]!;
      const inventedJob = await add({ outboxId: randomUUID(), eventType: 'order.created', aggregateId: victim.order_id, payload: { total_cents: 1 }, headers: {} });
      const copiedJob = await add({ outboxId: events[11]!.id, eventType: 'order.created', aggregateId: events[11]!.order_id, payload: { total_cents: 1 }, headers: {} });

      // Now the workers, with more orders arriving.
      await cluster.start('worker');
      const second = await driveOrders({ urls: () => cluster.apiUrls(), count: SECOND, ratePerSec: 50, name: 'Honest' }).done;
      expect(second.statuses).toEqual({ 201: SECOND });
      const accepted = [...first.accepted, ...second.accepted];

      const report = await waitFor(
        'the queues to drain and every order to finish',
        async () => {
          if ((await pendingJobs(audit.queues)) > 0) return undefined;
          const r = await runAudit({ sql: ctx.sql, invoicesSql: ctx.invoicesSql, queues: audit.queues, settleMs: 0, lockDurationMs: LOCK_DURATION_MS });
          return r.counts.lost === 0 ? r : undefined;
        },
        60_000,
      );
      expect(await notExactlyOnce(ctx, accepted)).toEqual([]);
      // The audit names exactly the forged jobs; nothing was lost or doubled.
      expect(report.counts).toMatchObject({ lost: 0, duplicated: 0, unexpected: 2 });
      expect(report.items.unexpected.map((i) => [i.kind, i.jobId]).sort()).toEqual(
        [
          ['job_mismatch', copiedJob],
          ['orphan_job', inventedJob],
        ].sort(),
      );

      const invented = await audit.queues.payments.getJob(inventedJob);
      expect(await invented!.getState()).toBe('failed');
      expect(invented!.failedReason).toContain('was not added by the relay');
      // The edits stuck in Redis, and were ignored: those orders were charged their own totals above.
      for (const e of edited) expect((await audit.queues.payments.getJob(e.id))!.data.payload).toMatchObject({ total_cents: 1 });

      // The operator removes the forged jobs, as the audit says; then it is clean.
      await audit.queues.payments.remove(inventedJob);
      await audit.queues.payments.remove(copiedJob);
      const clean = await settle(ctx, audit.queues);
      expect(clean.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
    },
    scaled(90_000),
  );
});
