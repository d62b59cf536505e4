// The row-by-row poller: a stand-in, in a few lines, for the relay of the seed service that
// publishes its outbox to Kafka, a processor that polls every N seconds. Every second, read the
// unpublished rows and publish them one by one (one Queue.add per queue, then one UPDATE per row, each its own
// round trip and commit), until none is left. No wake-up, no batching, no SKIP LOCKED.
// Jobs are signed as our relay signs them (the invoice consumer refuses unsigned ones), with the
// same key (OUTBOX_SIGNING_KEY, else the engine's stored key). Events routed to no queue are now
// written unpublished like the others (they used to be marked published at write time), so this
// stand-in reads and marks them too: one UPDATE each, no add.
import { loadConfig } from '../../src/config.ts';
import { createSql } from '../../src/db/client.ts';
import type { OutboxRow } from '../../src/db/outbox.ts';
import { storedSigningKey } from '../../src/engine/signing-key.ts';
import { createSigner } from '../../src/engine/signing.ts';
import { createLogger } from '../../src/logger.ts';
import { createFailFastRedis, waitUntilReady } from '../../src/redis/connection.ts';
import { closeQueues } from '../../src/redis/queues.ts';
import { createOrderQueues } from '../../src/orders/queues.ts';
import { ORDER_TOPOLOGY } from '../../src/orders/topology.ts';
import { jobFor } from '../../src/relay/publish.ts';
import { helperLifecycle } from '../lib/child.ts';

const config = loadConfig(process.env);
const log = createLogger(config.LOG_LEVEL, 'seed-relay');
const sql = createSql({ url: config.DATABASE_URL, max: 2, connectTimeoutS: 10, log });
const redis = createFailFastRedis(config.REDIS_URL, log, 'seed-relay');
await waitUntilReady(redis, 5000);
const queues = createOrderQueues(redis, config);
const signer = createSigner(config.OUTBOX_SIGNING_KEY ?? [await storedSigningKey(sql)]);

let running = true;
const loop = (async () => {
  while (running) {
    for (;;) {
      const rows = await sql<OutboxRow[]>`SELECT * FROM outbox WHERE published_at IS NULL ORDER BY created_at LIMIT 100`;
      if (rows.length === 0 || !running) break;
      for (const row of rows) {
        const job = jobFor(row, signer);
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
