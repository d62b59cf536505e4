// The engine used as a team would use it in its own service, with nothing of the pizza shop: its
// own topology, its own table, an event written in its own transaction, a consumer with its
// handler and a route added for a new consumer. The relay, the inbox, signing and replay are the
// engine's; the test only declares and asserts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboxEngine, defineTopology, type ConsumerSpec } from '../src/engine/index.ts';
import { createRegistry } from '../src/metrics/metrics.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';

// A library's loan desk: a book is lent (book.lent → reminders), a reminder consumer records it.
const topology = defineTopology({
  queues: { reminders: { consumer: 'reminder' }, notifications: { consumer: 'notifier' } },
  routes: { 'book.lent': ['reminders'], 'reminder.scheduled': ['notifications'] },
});

let ctx: TestContext;
let engine: ReturnType<typeof createOutboxEngine<'book.lent' | 'reminder.scheduled', 'reminders' | 'notifications'>>;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  ctx = await createTestContext();
  await ctx.sql`CREATE TABLE loans (id uuid PRIMARY KEY, title text NOT NULL)`;
  await ctx.sql`CREATE TABLE reminders (loan_id uuid PRIMARY KEY, title text NOT NULL)`;
  await ctx.sql`CREATE TABLE notifications (id uuid PRIMARY KEY, loan_id uuid NOT NULL)`;
  engine = createOutboxEngine({ topology, sql: ctx.sql, settings: ctx.config, log: ctx.log, registry: createRegistry() });
  await engine.start();
  stops.push(() => engine.stop());

  // The consumer: one spec, its effect and next event recorded with the inbox row in one statement.
  const reminder: ConsumerSpec<'book.lent' | 'reminder.scheduled', 'reminders'> = {
    queue: 'reminders',
    accepts: ['book.lent'],
    trust: 'outbox',
    async handle(step) {
      const title = String(step.event.payload.title);
      const recorded = await step.record({
        effects: [['reminder', step.db`INSERT INTO reminders (loan_id, title) SELECT ${step.event.aggregateId}, ${title} FROM inbox`]],
        emit: [{ event: step.next('reminder.scheduled', { title }) }],
      });
      return recorded.fresh ? { outcome: 'done' } : { outcome: 'duplicate' };
    },
  };
  // Added later: a route entry ('reminder.scheduled' → notifications) and this one consumer, which
  // trusts the signature rather than the outbox and records through a transaction.
  const notifier: ConsumerSpec<'book.lent' | 'reminder.scheduled', 'notifications'> = {
    queue: 'notifications',
    accepts: ['reminder.scheduled'],
    trust: 'signature',
    async handle(step) {
      const done = await step.transaction((tx) => tx`INSERT INTO notifications (id, loan_id) VALUES (${step.event.id}, ${step.event.aggregateId})`);
      return done.fresh ? { outcome: 'done' } : { outcome: 'duplicate' };
    },
  };
  const consumers = engine.consumers([reminder, notifier]);
  const relay = engine.relay();
  await consumers.start();
  await relay.start();
  stops.push(
    () => consumers.stop(),
    () => relay.stop(),
  );
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await ctx?.cleanup();
});

async function lend(title: string): Promise<string> {
  const id = crypto.randomUUID();
  // The service's own transaction: its row and its event commit together.
  await ctx.sql.begin(async (tx) => {
    await tx`INSERT INTO loans (id, title) VALUES (${id}, ${title})`;
    await engine.insertEvent(tx, engine.newEvent('book.lent', { type: 'loan', id }, { title }));
  });
  engine.wakeRelay();
  return id;
}

describe('the outbox engine in a service of its own', () => {
  it('carries an event through the relay to its consumer and on to the next, each effect once', async () => {
    const ids = await Promise.all(['Dune', 'Emma', 'Ulysses'].map(lend));
    await waitFor('every notification', async () => (await ctx.sql`SELECT 1 FROM notifications WHERE loan_id = ANY(${ids}::uuid[])`).length === 3);
    const reminders = await ctx.sql`SELECT title FROM reminders WHERE loan_id = ANY(${ids}::uuid[]) ORDER BY title`;
    expect(reminders.map((r) => r.title)).toEqual(['Dune', 'Emma', 'Ulysses']);
    const jobs = await engine.queues.notifications.getJobs(['completed']);
    expect(jobs.every((j) => typeof j.data.signature === 'string')).toBe(true);
  });

  it('absorbs a replayed event in the inbox', async () => {
    const id = await lend('Middlemarch');
    await waitFor('the notification', async () => (await ctx.sql`SELECT 1 FROM notifications WHERE loan_id = ${id}`).length === 1);
    const [event] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${id} AND event_type = 'book.lent'`;
    await waitFor('the lent event to be confirmed', async () => (await engine.operations.replay(event!.id)).outcome === 'replayed');
    await waitFor('the replayed job to finish', async () => (await engine.queues.reminders.getJob(event!.id))?.returnvalue?.outcome === 'duplicate');
    expect(await ctx.sql`SELECT 1 FROM reminders WHERE loan_id = ${id}`).toHaveLength(1);
  });

  it('refuses an event type its topology does not declare', () => {
    expect(() => engine.newEvent('book.burnt' as never, { type: 'loan', id: crypto.randomUUID() }, {})).not.toThrow();
    expect(() => engine.eventInsert(ctx.sql, engine.newEvent('book.burnt' as never, { type: 'loan', id: crypto.randomUUID() }, {}))).toThrow(/not declared/);
  });
});
