// Retention: old published-and-confirmed outbox rows and inbox rows go, in batches, and so do the
// tables a service adds (the order service's idempotency keys); nothing still needed (pending, dead,
// unconfirmed, recent) is touched.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpiredIdempotencyKeys } from '../src/db/idempotency.ts';
import { createLogger } from '../src/logger.ts';
import { createRetention, type PruneTask } from '../src/relay/retention.ts';
import { createTestContext, type TestContext } from './support/context.ts';

let ctx: TestContext;
const log = createLogger('silent', 'test');
const IDEMPOTENCY_KEY_TTL_S = 86400;

beforeAll(async () => {
  ctx = await createTestContext();
});

afterAll(async () => {
  await ctx?.cleanup();
});

// The task the order service hands the engine's retention.
const idempotencyKeys = (): PruneTask => ({ table: 'idempotency_keys', prune: (limit) => deleteExpiredIdempotencyKeys(ctx.sql, IDEMPOTENCY_KEY_TTL_S, limit) });

async function outboxRow(state: 'confirmed' | 'unconfirmed' | 'pending' | 'dead', ageDays: number): Promise<string> {
  const id = randomUUID();
  const at = ctx.sql`now() - make_interval(days => ${ageDays})`;
  await ctx.sql`
    INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, published_at, confirmed_at, dead_at)
    VALUES (${id}, 'order', gen_random_uuid(), 'order.delivered', '{}', ${at},
      ${state === 'confirmed' || state === 'unconfirmed' ? at : null},
      ${state === 'confirmed' ? at : null},
      ${state === 'dead' ? at : null})`;
  return id;
}

async function inboxRows(n: number, ageDays: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await ctx.sql`INSERT INTO processed_messages (consumer, message_id, processed_at)
    SELECT 'payment', id, now() - make_interval(days => ${ageDays}) FROM unnest(${ids}::uuid[]) AS id`;
  return ids;
}

async function idempotencyKeyRows(n: number, ageHours: number): Promise<string[]> {
  const keys = Array.from({ length: n }, () => `key-${randomUUID()}`);
  await ctx.sql`INSERT INTO idempotency_keys (key, request_hash, created_at)
    SELECT key, 'h', now() - make_interval(hours => ${ageHours}) FROM unnest(${keys}::text[]) AS key`;
  return keys;
}

// Which of `ids` are still there.
const remainingOutbox = async (ids: string[]) => (await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE id = ANY(${ids}::uuid[])`).map((r) => r.id).sort();
const remainingInbox = async (ids: string[]) =>
  (await ctx.sql<{ message_id: string }[]>`SELECT message_id FROM processed_messages WHERE message_id = ANY(${ids}::uuid[])`).map((r) => r.message_id).sort();
const remainingKeys = async (keys: string[]) => (await ctx.sql<{ key: string }[]>`SELECT key FROM idempotency_keys WHERE key = ANY(${keys}::text[])`).map((r) => r.key).sort();

describe('retention', () => {
  it('deletes only what is past its retention and no longer needed, in batches, with the tables the service adds', async () => {
    const oldConfirmed = await Promise.all(Array.from({ length: 25 }, () => outboxRow('confirmed', 10)));
    const keep = await Promise.all([outboxRow('confirmed', 1), outboxRow('unconfirmed', 10), outboxRow('pending', 10), outboxRow('dead', 10)]);
    const oldInbox = await inboxRows(12, 40);
    const freshInbox = await inboxRows(1, 0);
    const oldKeys = await idempotencyKeyRows(13, 48);
    const newKeys = await idempotencyKeyRows(2, 0);

    const retention = createRetention(ctx.sql, { outboxS: 7 * 86400, inboxS: 30 * 86400, intervalMs: 60_000, batchSize: 10 }, log, [idempotencyKeys()]);
    const deleted = await retention.pass();
    expect(deleted).toEqual({ outbox: 25, processed_messages: 12, idempotency_keys: 13 });

    expect(await remainingOutbox([...oldConfirmed, ...keep])).toEqual([...keep].sort());
    expect(await remainingInbox([...oldInbox, ...freshInbox])).toEqual(freshInbox);
    expect(await remainingKeys([...oldKeys, ...newKeys])).toEqual([...newKeys].sort());
    expect(await retention.pass()).toEqual({ outbox: 0, processed_messages: 0, idempotency_keys: 0 });
  });

  it("prunes only the engine's own tables when the service adds none", async () => {
    const oldConfirmed = await outboxRow('confirmed', 10);
    const oldKeys = await idempotencyKeyRows(3, 48);
    const retention = createRetention(ctx.sql, { outboxS: 7 * 86400, inboxS: 30 * 86400, intervalMs: 60_000 }, log);
    expect(await retention.pass()).toEqual({ outbox: 1, processed_messages: 0 });
    expect(await remainingOutbox([oldConfirmed])).toEqual([]);
    expect(await remainingKeys(oldKeys)).toEqual([...oldKeys].sort()); // not the engine's to delete
    await createRetention(ctx.sql, { outboxS: 7 * 86400, inboxS: 30 * 86400, intervalMs: 60_000 }, log, [idempotencyKeys()]).pass();
    expect(await remainingKeys(oldKeys)).toEqual([]);
  });

  it('does at most its share of batches in a pass and leaves the rest to the next', async () => {
    const old = await Promise.all(Array.from({ length: 25 }, () => outboxRow('confirmed', 10)));
    const oldKeys = await idempotencyKeyRows(25, 48);
    const retention = createRetention(ctx.sql, { outboxS: 7 * 86400, inboxS: 30 * 86400, intervalMs: 60_000, batchSize: 10, maxBatchesPerPass: 2 }, log, [idempotencyKeys()]);
    expect(await retention.pass()).toEqual({ outbox: 20, processed_messages: 0, idempotency_keys: 20 });
    expect(await remainingOutbox(old)).toHaveLength(5);
    expect(await remainingKeys(oldKeys)).toHaveLength(5);
    expect(await retention.pass()).toEqual({ outbox: 5, processed_messages: 0, idempotency_keys: 5 });
    expect(await remainingOutbox(old)).toEqual([]);
    expect(await remainingKeys(oldKeys)).toEqual([]);
  });
});
