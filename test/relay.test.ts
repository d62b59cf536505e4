// The relay against real Postgres and Redis: routing, signed jobs, dedupe, concurrency, late
// commits and poison rows.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSql, createSql, type Db } from '../src/db/client.ts';
import { insertOrderWithEvent } from '../src/db/orders.ts';
import type { OutboxRow } from '../src/db/outbox.ts';
import { eventInsert, newEvent } from '../src/engine/events.ts';
import { createSigner } from '../src/engine/signing.ts';
import { createOrderQueues, type OrderQueues as Queues } from '../src/orders/queues.ts';
import { ORDER_TOPOLOGY } from '../src/orders/topology.ts';
import { createFailFastRedis, waitUntilReady } from '../src/redis/connection.ts';
import { closeQueues } from '../src/redis/queues.ts';
import { createBatchProcessor } from '../src/relay/outbox-store.ts';
import { publishRows } from '../src/relay/publish.ts';
import { createRelay } from '../src/relay/relay.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';

let ctx: TestContext;
let queues: Queues;
let redis: ReturnType<typeof createFailFastRedis>;
const signer = createSigner(['test-relay-signing-key']);

beforeAll(async () => {
  ctx = await createTestContext({ RELAY_MAX_ATTEMPTS: '3', RELAY_RETRY_BASE_MS: '10', RELAY_MAX_PAYLOAD_BYTES: '2048' });
  redis = createFailFastRedis(ctx.config.REDIS_URL, ctx.log, 'test-relay');
  await waitUntilReady(redis, 5000);
  queues = createOrderQueues(redis, ctx.config);
});

afterAll(async () => {
  await closeQueues(queues);
  redis?.disconnect();
  await ctx?.cleanup();
});

// A relay wired like the real one, whose every add is recorded so double publication shows.
function instrumentedRelay(published: string[]) {
  return createRelay({
    processBatch: createBatchProcessor(ctx.sql, { maxAttempts: ctx.config.RELAY_MAX_ATTEMPTS, baseDelayMs: ctx.config.RELAY_RETRY_BASE_MS }, ORDER_TOPOLOGY.unroutedEventTypes),
    publish: async (rows: OutboxRow[]) => {
      const outcome = await publishRows(rows, {
        topology: ORDER_TOPOLOGY,
        signer,
        addBulk: (queue, jobs) => {
          if (!ORDER_TOPOLOGY.isQueue(queue)) throw new Error(`no queue ${queue}`);
          return queues[queue].addBulk(jobs);
        },
        isRedisReady: () => redis.status === 'ready',
        maxPayloadBytes: ctx.config.RELAY_MAX_PAYLOAD_BYTES,
      });
      published.push(...outcome.published);
      return outcome;
    },
    log: ctx.log,
    batchSize: 50,
    concurrency: 2,
    pollIntervalMs: 50,
  });
}

async function placeOrder(db: Db = ctx.sql) {
  const orderId = randomUUID();
  const event = newEvent('order.created', { type: 'order', id: orderId }, { order_id: orderId, total_cents: 1200 });
  await insertOrderWithEvent(
    db,
    { id: orderId, customer_name: 'Relay', address: '1 Relay Rd', items: [{ flavor: 'Diavola', size: 'large', quantity: 1, unit_price_cents: 1200 }], total_cents: 1200 },
    eventInsert(db, event),
  );
  return { orderId, eventId: event.id };
}

// Rows of `ids` still to publish (not the whole table: only what this test wrote).
async function unpublishedCount(ids: readonly string[]): Promise<number> {
  const [row] = await ctx.sql`SELECT count(*)::int AS n FROM outbox WHERE id = ANY(${ids as string[]}::uuid[]) AND published_at IS NULL AND dead_at IS NULL`;
  return row!.n;
}

describe('the relay', () => {
  it('publishes an order.created row as a signed job carrying its aggregate, and leaves it to be confirmed', async () => {
    const { orderId, eventId } = await placeOrder();
    const published: string[] = [];
    const relay = instrumentedRelay(published);
    relay.start();
    await waitFor('the row to be published', () => published.includes(eventId));
    await relay.stop();

    const job = await queues.payments.getJob(eventId);
    expect(job?.data).toMatchObject({
      outboxId: eventId,
      eventType: 'order.created',
      aggregateType: 'order',
      aggregateId: orderId,
      payload: { order_id: orderId, total_cents: 1200 },
    });
    expect(signer.problem(job!.data, job!.data.signature)).toBeUndefined();
    const [row] = await ctx.sql<{ published_at: Date | null; confirmed_at: Date | null }[]>`SELECT published_at, confirmed_at FROM outbox WHERE id = ${eventId}`;
    expect(row!.published_at).not.toBeNull();
    expect(row!.confirmed_at).toBeNull(); // the payment consumer has not recorded it yet
  });

  it('publishes an event routed to no queue through the relay, adds no job for it and confirms it at once', async () => {
    const orderId = randomUUID();
    const event = newEvent('order.delivered', { type: 'order', id: orderId }, { order_id: orderId });
    await eventInsert(ctx.sql, event);
    // Written like any event: the relay, with the routes of its version, decides where it goes.
    const [written] = await ctx.sql<{ published_at: Date | null }[]>`SELECT published_at FROM outbox WHERE id = ${event.id}`;
    expect(written!.published_at).toBeNull();

    const published: string[] = [];
    const relay = instrumentedRelay(published);
    relay.start();
    await waitFor('the row to be published', () => published.includes(event.id));
    await relay.stop();

    const [row] = await ctx.sql<{ published_at: Date | null; confirmed_at: Date | null; last_error: string | null }[]>`
      SELECT published_at, confirmed_at, last_error FROM outbox WHERE id = ${event.id}`;
    expect(row!.published_at).not.toBeNull();
    expect(row!.confirmed_at).not.toBeNull();
    expect(row!.last_error).toBeNull();
    for (const name of ORDER_TOPOLOGY.queueNames) expect(await queues[name].getJob(event.id)).toBeUndefined();
  });

  it('makes no second job when a row is published again (jobId = outbox id)', async () => {
    const { eventId } = await placeOrder();
    const published: string[] = [];
    const relay = instrumentedRelay(published);
    relay.start();
    await waitFor('the first publication', () => published.includes(eventId));
    const first = await queues.payments.getJob(eventId);
    const before = await queues.payments.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed');

    // As after a crash between the add and the mark: the row is unpublished again.
    await ctx.sql`UPDATE outbox SET published_at = NULL WHERE id = ${eventId}`;
    relay.wake();
    await waitFor('the second publication', () => published.filter((id) => id === eventId).length === 2);
    await relay.stop();

    expect(await queues.payments.getJobCountByTypes('waiting', 'active', 'completed', 'failed', 'delayed')).toBe(before);
    expect((await queues.payments.getJob(eventId))?.timestamp).toBe(first!.timestamp); // the same job, not a new one
  });

  it('lets two relays at once publish each of 600 rows exactly once', async () => {
    const values: string[] = Array.from({ length: 600 }, () => randomUUID());
    await ctx.sql`
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload)
      SELECT id, 'order', gen_random_uuid(), 'order.created', '{}'::jsonb FROM unnest(${values}::uuid[]) AS id`;
    const first: string[] = [];
    const second: string[] = [];
    const relays = [instrumentedRelay(first), instrumentedRelay(second)];
    for (const r of relays) r.start();
    await waitFor('the backlog to drain', async () => (await unpublishedCount(values)) === 0);
    await Promise.all(relays.map((r) => r.stop()));

    const all = [...first, ...second].filter((id) => values.includes(id));
    expect(all).toHaveLength(values.length);
    expect(new Set(all).size).toBe(values.length);
    // Both took part; SKIP LOCKED gave each its own rows.
    expect(first.length).toBeGreaterThan(0);
    expect(second.length).toBeGreaterThan(0);
    // Every row has its job in the payment queue.
    const jobs = await Promise.all(values.map((id) => queues.payments.getJob(id)));
    expect(jobs.filter((j, i) => j?.data.outboxId !== values[i])).toEqual([]);
  });

  it('publishes an order placed behind a backlog without waiting for the backlog (one loop claims newest first)', async () => {
    const backlog: string[] = Array.from({ length: 2000 }, () => randomUUID());
    await ctx.sql`
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at)
      SELECT id, 'order', gen_random_uuid(), 'order.delivered', '{}'::jsonb, now() - interval '1 hour'
      FROM unnest(${backlog}::uuid[]) AS id`;
    const { eventId } = await placeOrder();
    const published: string[] = [];
    const relay = instrumentedRelay(published);
    relay.start();
    await waitFor('the backlog to drain', async () => (await unpublishedCount([...backlog, eventId])) === 0);
    await relay.stop();
    // Batches of 50: oldest first alone, the new order would come after all 2000.
    expect(published.indexOf(eventId)).toBeGreaterThanOrEqual(0);
    expect(published.indexOf(eventId)).toBeLessThan(200);
  });

  it('still publishes a row whose transaction committed after later rows', async () => {
    const published: string[] = [];
    const relay = instrumentedRelay(published);
    relay.start();
    // The early transaction takes its row (and its created_at) first but commits last.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let early: { eventId: string } | undefined;
    const longTx = ctx.sql.begin(async (tx) => {
      early = await placeOrder(tx);
      await held;
    });
    await waitFor('the long transaction to insert its row', () => early);
    const later = await Promise.all([placeOrder(), placeOrder(), placeOrder()]);
    await waitFor('the later rows to be published', () => later.every((l) => published.includes(l.eventId)));
    release();
    await longTx;
    relay.wake();
    await waitFor('the late-committed row to be published', () => published.includes(early!.eventId));
    await relay.stop();
  });

  it('marks a poison row dead with its reason and does not hold back the rows behind it', async () => {
    const poison = randomUUID();
    const oversized = randomUUID();
    await ctx.sql`INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload) VALUES
      (${poison}, 'order', gen_random_uuid(), 'order.teleported', '{}'),
      (${oversized}, 'order', gen_random_uuid(), 'order.created', ${ctx.sql.json({ blob: 'x'.repeat(4096) })})`;
    const behind = await placeOrder();

    const published: string[] = [];
    const relay = instrumentedRelay(published);
    relay.start();
    await waitFor('the row behind the poison to be published', () => published.includes(behind.eventId));
    await waitFor('both poison rows to be dead', async () => {
      const rows = await ctx.sql`SELECT 1 FROM outbox WHERE id IN (${poison}, ${oversized}) AND dead_at IS NOT NULL`;
      return rows.length === 2;
    });
    await relay.stop();

    const rows = await ctx.sql<{ id: string; attempts: number; last_error: string; published_at: Date | null }[]>`
      SELECT id, attempts, last_error, published_at FROM outbox WHERE id IN (${poison}, ${oversized})`;
    for (const row of rows) {
      expect(row.attempts).toBe(3);
      expect(row.published_at).toBeNull();
    }
    expect(rows.find((r) => r.id === poison)!.last_error).toContain('no route for event type "order.teleported"');
    expect(rows.find((r) => r.id === oversized)!.last_error).toContain('over RELAY_MAX_PAYLOAD_BYTES');
    expect(await queues.payments.getJob(oversized)).toBeUndefined();
  });

  it('rolls back and hands back its connection when publishing fails with a network error of Redis (ECONNRESET)', async () => {
    // The error of a reset Redis connection carries the same code as a reset Postgres one; the
    // batch's own Postgres connection is healthy and must not be left reserved in its transaction.
    const { eventId } = await placeOrder();
    const pool = createSql({ url: ctx.env.DATABASE_URL!, max: 1, connectTimeoutS: 5 });
    try {
      const processBatch = createBatchProcessor(pool, { maxAttempts: 3, baseDelayMs: 10 }, ORDER_TOPOLOGY.unroutedEventTypes);
      const redisReset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      const failing = () => Promise.reject(redisReset);
      await expect(processBatch(50, failing, 'oldest')).rejects.toBe(redisReset);
      // Nothing of the batch stays open or locked, and the one connection of the pool serves again.
      const open = await ctx.sql`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`;
      expect(open).toEqual([]);
      expect(await unpublishedCount([eventId])).toBe(1);
      const claimed: string[] = [];
      const publishAll = async (rows: OutboxRow[]) => {
        claimed.push(...rows.map((r) => r.id));
        return { published: rows.map((r) => r.id), failed: [], unrouted: [] };
      };
      expect(await processBatch(50, publishAll, 'oldest')).toBeGreaterThan(0);
      expect(claimed).toContain(eventId);
    } finally {
      await closeSql(pool);
    }
  });
});
