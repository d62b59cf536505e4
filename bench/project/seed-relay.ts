// The seeds' way, standing for their design in a few lines: every second, read the unpublished
// rows and publish them one by one (one Queue.add per queue, then one UPDATE per row, each its own
// round trip and commit), until none is left. No wake-up, no batching, no SKIP LOCKED.
import { loadConfig } from '../../src/config.ts';
import { createSql } from '../../src/db/client.ts';
import type { OutboxRow } from '../../src/db/outbox.ts';
import { routeFor } from '../../src/events/routing.ts';
import { createLogger } from '../../src/logger.ts';
import { createFailFastRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { closeQueues } from '../../src/redis/queues.ts';
import { createOrderQueues } from '../../src/orders/queues.ts';
import { jobFor } from '../../src/relay/publish.ts';
import { helperLifecycle } from '../lib/child.ts';

const config = loadConfig(process.env);
const log = createLogger(config.LOG_LEVEL, 'seed-relay');
const sql = createSql({ url: config.DATABASE_URL, max: 2, connectTimeoutS: 10, log });
const redis = createFailFastRedis(config.REDIS_URL, log, 'seed-relay');
await waitUntilReady(redis, 5000);
const queues = createOrderQueues(redis, config);

let running = true;
const loop = (async () => {
  while (running) {
    for (;;) {
      const rows = await sql<OutboxRow[]>`SELECT * FROM outbox WHERE published_at IS NULL ORDER BY created_at LIMIT 100`;
      if (rows.length === 0 || !running) break;
      for (const row of rows) {
        const job = jobFor(row);
        for (const queue of ORDER_TOPOLOGY.routeFor(row.event_type) ?? []) await queues[queue].add(job.name, job.data, job.opts);
        await sql`UPDATE outbox SET published_at = now() WHERE id = ${row.id}`;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
})();

helperLifecycle(async () => {
  running = false;
  await loop;
  await closeQueues(queues);
  redis.disconnect();
  await sql.end({ timeout: 5 });
}).ready();
