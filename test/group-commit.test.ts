// Group commit in the engine's consumer path, on a real Postgres: the steps recorded at the same
// moment commit in one transaction and the events loaded at the same moment come from one
// statement, and still one bad step or one missing event fails alone.
import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrderStore } from '../src/api/order-store.ts';
import { eventInsert, newEvent } from '../src/engine/events.ts';
import { createOutboxEngine, defineTopology, type ConsumerSpec } from '../src/engine/index.ts';
import { createEventLoader } from '../src/engine/load.ts';
import { createGroupCommit } from '../src/engine/group-commit.ts';
import { recordedStatement } from '../src/engine/step.ts';
import { createRegistry } from '../src/metrics/metrics.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';

const topology = defineTopology({ queues: { stamps: { consumer: 'stamper' } }, routes: { 'letter.posted': ['stamps'] } });

let ctx: TestContext;
let engine: ReturnType<typeof createOutboxEngine<'letter.posted', 'stamps'>>;
const registry = createRegistry();

beforeAll(async () => {
  ctx = await createTestContext({ WORKER_CONCURRENCY: '32', JOB_ATTEMPTS: '1' });
  // A stamp for a letter addressed to 'nowhere' is refused by the table itself: the step's
  // statement fails in Postgres, as a bad row would.
  await ctx.sql`CREATE TABLE stamps (letter_id uuid PRIMARY KEY, address text NOT NULL CHECK (address <> 'nowhere'))`;
  engine = createOutboxEngine({ topology, sql: ctx.sql, settings: ctx.config, log: ctx.log, registry });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await ctx?.cleanup();
});

const stamp = (letterId: string, address: string) =>
  recordedStatement(ctx.sql, 'stamper', crypto.randomUUID(), { effects: [['stamp', ctx.sql`INSERT INTO stamps (letter_id, address) SELECT ${letterId}, ${address} FROM inbox`]] });

// One letter.posted event per address; resolves with the letters' ids and the events' ids.
async function post(addresses: readonly string[]): Promise<{ letters: string[]; events: string[] }> {
  const events = addresses.map((address) => engine.newEvent('letter.posted', { type: 'letter', id: crypto.randomUUID() }, { address }));
  await ctx.sql.begin(async (tx) => {
    for (const event of events) await engine.insertEvent(tx, event);
  });
  return { letters: events.map((e) => e.aggregateId), events: events.map((e) => e.id) };
}

describe('group commit of recorded steps', () => {
  it('commits steps recorded together in fewer transactions than steps, and a refused step fails alone', async () => {
    const batches: number[] = [];
    const commit = createGroupCommit(ctx.sql, (n) => batches.push(n));
    const record = async (s: { fragment: ReturnType<typeof stamp> }) => (await commit<{ fresh: boolean }>(s))[0]!;
    const letters = Array.from({ length: 40 }, (_, i) => ({ id: crypto.randomUUID(), address: i === 17 ? 'nowhere' : `street ${i}` }));
    const settled = await Promise.allSettled(letters.map((l) => record({ fragment: stamp(l.id, l.address) })));
    expect(settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason.code)).toEqual(['23514']);
    expect(settled.filter((s) => s.status === 'fulfilled').every((s) => (s as PromiseFulfilledResult<{ fresh: boolean }>).value.fresh)).toBe(true);
    const stored = await ctx.sql<{ letter_id: string }[]>`SELECT letter_id FROM stamps WHERE letter_id = ANY(${letters.map((l) => l.id)}::uuid[])`;
    expect(new Set(stored.map((r) => r.letter_id))).toEqual(new Set(letters.filter((l) => l.address !== 'nowhere').map((l) => l.id)));
    expect(batches.reduce((a, b) => a + b)).toBe(40);
    expect(batches.length).toBeLessThan(40); // they were batched: otherwise this test proves nothing
  });

  it('loads events requested together with one statement, and a missing event fails alone', async () => {
    const { events: ids } = await post(Array.from({ length: 30 }, (_, i) => `lane ${i}`));
    const batches: number[] = [];
    const load = createEventLoader(ctx.sql, { consumer: 'stamper', trust: 'outbox', accepts: ['letter.posted'] }, undefined, (n) => batches.push(n));
    const events = await Promise.all(ids.map((id) => load(id, { outboxId: id })));
    expect(events.map((e) => e.event.id)).toEqual(ids);
    expect(events.every((e) => e.processed === false)).toBe(true);
    const missing = crypto.randomUUID();
    const settled = await Promise.allSettled([...ids.slice(0, 5), missing, ...ids.slice(5, 10)].map((id) => load(id, { outboxId: id })));
    expect(settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason)).toEqual([expect.any(UnrecoverableError)]);
    expect(batches.length).toBeLessThan(41);
  });

  it('through the workers: many events at once each stamped once, the refused one failed alone', async () => {
    const stamper: ConsumerSpec<'letter.posted', 'stamps'> = {
      queue: 'stamps',
      accepts: ['letter.posted'],
      trust: 'outbox',
      async handle(step) {
        const address = String(step.event.payload.address);
        const recorded = await step.record({ effects: [['stamp', step.db`INSERT INTO stamps (letter_id, address) SELECT ${step.event.aggregateId}, ${address} FROM inbox`]] });
        return recorded.fresh ? { outcome: 'done' } : { outcome: 'duplicate' };
      },
    };
    const consumers = engine.consumers([stamper]);
    const relay = engine.relay();
    try {
      // Posted before the workers start, so that they find a full queue and take jobs together.
      const { letters: ids, events } = await post(Array.from({ length: 120 }, (_, i) => (i === 60 ? 'nowhere' : `road ${i}`)));
      await relay.start();
      engine.wakeRelay();
      await waitFor('every event published', async () => (await ctx.sql`SELECT 1 FROM outbox WHERE published_at IS NULL`).length === 0 || undefined);
      await consumers.start();
      const refused = events[60]!;
      await waitFor('the refused job to fail', async () => (await engine.queues.stamps.getJob(refused).then((j) => j?.isFailed())) || undefined, 60_000);
      await waitFor('119 stamps', async () => (await ctx.sql`SELECT 1 FROM stamps WHERE letter_id = ANY(${ids}::uuid[])`).length === 119 || undefined, 60_000);
      const [counts] = await ctx.sql<
        { inbox: number }[]
      >`SELECT count(*)::int AS inbox FROM processed_messages WHERE consumer = 'stamper' AND message_id IN (SELECT id FROM outbox WHERE aggregate_id = ANY(${ids}::uuid[]))`;
      expect(counts!.inbox).toBe(119); // the refused step left no inbox row behind: it can be retried
      expect((await engine.queues.stamps.getJobCounts('failed')).failed).toBe(1);
      // The 150 jobs (these and the previous test's) were loaded by fewer statements than jobs.
      const { values } = (await registry.getSingleMetric('consumer_batch_size')!.get()) as {
        values: Array<{ labels: Record<string, string>; metricName?: string; value: number }>;
      };
      const loads = values.find((v) => v.labels.statement === 'load' && v.metricName === 'consumer_batch_size_count')?.value;
      const loaded = values.find((v) => v.labels.statement === 'load' && v.metricName === 'consumer_batch_size_sum')?.value;
      expect(loaded).toBeGreaterThanOrEqual(150);
      expect(loads).toBeLessThan(loaded!);
    } finally {
      await consumers.stop();
      await relay.stop();
    }
  });
});

describe('group commit of orders placed at the same moment', () => {
  it('gives each order its own answer: one refused by Postgres fails alone, the others commit with their events', async () => {
    const batches: number[] = [];
    const store = createOrderStore(ctx.sql, { newEvent, eventInsert, wakeRelay: () => {} }, { groupCommit: { onBatch: (n) => batches.push(n) } });
    const item = (cents: number) => ({ flavor: 'Margherita', size: 'medium' as const, quantity: 1, unit_price_cents: cents });
    // A total of 0 cents passes the store but not the table's CHECK (total_cents > 0).
    const inputs = Array.from({ length: 30 }, (_, i) => {
      const cents = i === 12 ? 0 : 100 + i;
      return { customer_name: `guest ${i}`, address: 'Pier 1', items: [item(cents)], total_cents: cents };
    });
    const settled = await Promise.allSettled(inputs.map((input) => store.place(input, {})));
    expect(settled.map((s) => (s.status === 'rejected' ? (s.reason as { code?: string }).code : 'ok'))).toEqual(inputs.map((_, i) => (i === 12 ? '23514' : 'ok')));
    const placed = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(placed.map((o) => o.customer_name)).toEqual(inputs.filter((_, i) => i !== 12).map((i) => i.customer_name));
    const stored = await ctx.sql`
      SELECT o.id FROM orders o JOIN outbox e ON e.aggregate_id = o.id AND e.event_type = 'order.created'
      WHERE o.id = ANY(${placed.map((o) => o.id)}::uuid[])`;
    expect(stored).toHaveLength(29);
    expect(await ctx.sql`SELECT 1 FROM orders WHERE customer_name = 'guest 12'`).toHaveLength(0);
    expect(batches.length).toBeLessThan(30); // they were batched: otherwise this test proves nothing
  });
});
