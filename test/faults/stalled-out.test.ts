// A job that stalls more than WORKER_MAX_STALLED_COUNT times is failed by BullMQ without running
// it again. It must still end in a recorded state: the consumer's give-up hook runs, as on a last
// failed attempt (for an order: its failed status and event). Here a worker freezes with the job
// (its handler never returns and the worker is forced to close, so the lock is not renewed), with
// WORKER_MAX_STALLED_COUNT=0: the first stall fails the job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboxEngine, defineTopology, type ConsumerSpec } from '../../src/engine/index.ts';
import { createRegistry } from '../../src/metrics/metrics.ts';
import { createTestContext, waitFor, type TestContext } from '../support/context.ts';

const topology = defineTopology({ queues: { parcels: { consumer: 'courier' } }, routes: { 'parcel.sent': ['parcels'] } });

let ctx: TestContext;
let engine: ReturnType<typeof createOutboxEngine<'parcel.sent', 'parcels'>>;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  ctx = await createTestContext({ WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500', WORKER_MAX_STALLED_COUNT: '0' });
  await ctx.sql`CREATE TABLE deliveries_given_up (parcel_id uuid PRIMARY KEY, reason text NOT NULL)`;
  await ctx.sql`CREATE TABLE delivered (parcel_id uuid PRIMARY KEY)`;
  engine = createOutboxEngine({ topology, sql: ctx.sql, settings: ctx.config, log: ctx.log, registry: createRegistry() });
  await engine.start();
  stops.push(() => engine.stop());
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await ctx?.cleanup();
});

// A courier whose handler is given; the give-up hook records why the parcel was given up.
function courier(handle: ConsumerSpec<'parcel.sent', 'parcels'>['handle']): ConsumerSpec<'parcel.sent', 'parcels'> {
  return {
    queue: 'parcels',
    accepts: ['parcel.sent'],
    trust: 'outbox',
    handle,
    async onGiveUp(step, err) {
      await step.db`INSERT INTO deliveries_given_up (parcel_id, reason) VALUES (${step.event.aggregateId}, ${String((err as Error).message)}) ON CONFLICT DO NOTHING`;
    },
  };
}

describe('a job that stalls more than WORKER_MAX_STALLED_COUNT times', () => {
  it('runs the give-up hook, so the job ends in a recorded state', async () => {
    const parcel = crypto.randomUUID();
    let frozen = false;
    let calledAgain = false;
    const freezing = engine.consumers([
      courier(async () => {
        frozen = true;
        return new Promise(() => {}); // frozen: never returns
      }),
    ]);
    await freezing.start();
    await engine.insertEvent(ctx.sql, engine.newEvent('parcel.sent', { type: 'parcel', id: parcel }, {}));
    const relay = engine.relay();
    await relay.start();
    stops.push(() => relay.stop());
    engine.wakeRelay();
    await waitFor('the frozen worker to hold the job', () => frozen || undefined);
    await Promise.all(freezing.workers.map((w) => w.close(true))); // gone without a word: its lock runs out

    const healthy = engine.consumers([
      courier(async (step) => {
        calledAgain = true;
        await step.record({ effects: [['delivered', step.db`INSERT INTO delivered (parcel_id) SELECT ${parcel} FROM inbox`]] });
        return { outcome: 'done' };
      }),
    ]);
    await healthy.start();
    stops.push(() => healthy.stop());

    const [row] = await waitFor('the give-up hook to record the parcel', async () => {
      const rows = await ctx.sql<{ reason: string }[]>`SELECT reason FROM deliveries_given_up WHERE parcel_id = ${parcel}`;
      return rows.length ? rows : undefined;
    });
    expect(row!.reason).toMatch(/stalled/);
    const [event] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${parcel}`;
    expect(await (await engine.queues.parcels.getJob(event!.id))?.isFailed()).toBe(true);
    expect(calledAgain).toBe(false); // BullMQ failed it without running it: only the hook recorded it
    expect(await ctx.sql`SELECT 1 FROM delivered WHERE parcel_id = ${parcel}`).toHaveLength(0);
  });
});
