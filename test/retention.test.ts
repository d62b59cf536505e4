// Retention: old published-and-confirmed outbox rows, inbox rows and idempotency keys go, in
// batches; nothing still needed (pending, dead, unconfirmed, recent) is touched.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { createRetention } from '../src/relay/retention.ts';
import { createTestContext, type TestContext } from './support/context.ts';

let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext();
});

afterAll(async () => {
  await ctx?.cleanup();
});

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

describe('retention', () => {
  it('deletes only what is past its retention and no longer needed, in batches', async () => {
    const oldConfirmed = await Promise.all(Array.from({ length: 25 }, () => outboxRow('confirmed', 10)));
    const keep = await Promise.all([outboxRow('confirmed', 1), outboxRow('unconfirmed', 10), outboxRow('pending', 10), outboxRow('dead', 10)]);
    await ctx.sql`INSERT INTO processed_messages (consumer, message_id, processed_at)
      SELECT 'payment', gen_random_uuid(), now() - interval '40 days' FROM generate_series(1, 12)`;
    const freshInbox = randomUUID();
    await ctx.sql`INSERT INTO processed_messages (consumer, message_id) VALUES ('payment', ${freshInbox})`;
    await ctx.sql`INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES ('old-key', 'h', now() - interval '2 days'), ('new-key', 'h', now())`;

    const retention = createRetention(ctx.sql, { outboxS: 7 * 86400, inboxS: 30 * 86400, idempotencyKeyS: 86400, intervalMs: 60_000, batchSize: 10 }, createLogger('silent', 'test'));
    const deleted = await retention.pass();
    expect(deleted).toEqual({ outbox: 25, processed_messages: 12, idempotency_keys: 1 });

    const left = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox`;
    expect(left.map((r) => r.id).sort()).toEqual([...keep].sort());
    expect(oldConfirmed.some((id) => left.some((r) => r.id === id))).toBe(false);
    expect(await ctx.sql`SELECT message_id FROM processed_messages`).toEqual([{ message_id: freshInbox }]);
    expect(await ctx.sql`SELECT key FROM idempotency_keys`).toEqual([{ key: 'new-key' }]);
    expect(await retention.pass()).toEqual({ outbox: 0, processed_messages: 0, idempotency_keys: 0 });
  });
});
