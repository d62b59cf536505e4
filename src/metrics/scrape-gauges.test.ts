// The scrape-time gauges with their dependency away: real clients (ioredis through BullMQ,
// postgres.js) pointed at a loopback port where nothing listens. /metrics must still answer.
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createSql } from '../db/client.ts';
import { createLogger } from '../logger.ts';
import { createCommandConnection } from '../redis/connection.ts';
import { closeQueues, createQueues } from '../redis/queues.ts';
import { readOutboxStats, registerOutboxGauges } from './outbox-gauges.ts';
import { registerQueueGauges } from './queue-gauges.ts';
import { cachedReading } from './scrape-cache.ts';

const log = createLogger('silent', 'test');

async function deadPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('scrape-time gauges', () => {
  it('answer with redis_up 0 and no queue samples while Redis is away', async () => {
    const settings = {
      REDIS_URL: `redis://127.0.0.1:${await deadPort()}`,
      QUEUE_PREFIX: '{dead}',
      JOB_ATTEMPTS: 1,
      JOB_BACKOFF_MS: 10,
      JOB_KEEP_COMPLETED_S: 1,
      JOB_KEEP_FAILED_S: 1,
    };
    const redis = createCommandConnection(settings, log, 'test-dead');
    const queues = createQueues(redis, ['payments'], settings);
    cleanups.push(async () => {
      await closeQueues(queues);
      redis.disconnect();
    });
    const registry = new Registry();
    registerQueueGauges(registry, queues);
    const text = await registry.metrics();
    expect(text).toContain('redis_up 0');
    expect(text).not.toMatch(/^bullmq_jobs\{/m);
  });

  it('answer with postgres_up 0 and NaN outbox gauges while Postgres is away', async () => {
    const sql = createSql({ url: `postgres://postgres@127.0.0.1:${await deadPort()}/none`, max: 1, connectTimeoutS: 1 });
    cleanups.push(() => sql.end({ timeout: 1 }));
    const registry = new Registry();
    registerOutboxGauges(registry, () => readOutboxStats(sql));
    registerOutboxGauges(registry, () => readOutboxStats(sql)); // a second role asking again is a no-op
    const text = await registry.metrics();
    expect(text).toContain('postgres_up 0');
    expect(text).toMatch(/^outbox_pending_rows NaN$/im);
    expect(text).toMatch(/^outbox_oldest_pending_age_seconds NaN$/im);
  });

  it('share one reading between the gauges of a scrape, and give up on one that hangs', async () => {
    let reads = 0;
    const read = cachedReading(async () => ++reads, 60_000);
    expect([await read(), await read()]).toEqual([1, 1]);
    const hung = cachedReading(() => new Promise<number>(() => {}), 10, 20);
    expect(await hung()).toBeUndefined();
  });
});
