// Turns claimed outbox rows into BullMQ jobs. jobId = outbox id, so adding a row again (after a
// crash between add and mark) is a no-op while the job is still in Redis.
import type { JobsOptions } from 'bullmq';
import type { OutboxRow } from '../db/outbox.ts';
import { routeFor, type OutboxJobData, type QueueName } from '../events/routing.ts';

export interface BatchOutcome {
  published: string[];
  failed: Array<{ id: string; error: string }>;
}

export interface JobSpec {
  name: string;
  data: OutboxJobData;
  opts: JobsOptions;
}

// The subset of BullMQ's Queue the relay uses.
export type AddBulk = (queue: QueueName, jobs: JobSpec[]) => Promise<unknown>;

// Thrown when Redis itself is unavailable: nothing in the batch is the rows' fault, so the relay
// rolls the batch back and backs off without counting attempts.
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export function jobFor(row: OutboxRow): JobSpec {
  return {
    name: row.event_type,
    data: { outboxId: row.id, eventType: row.event_type, aggregateId: row.aggregate_id, payload: row.payload, headers: row.headers },
    opts: { jobId: row.id },
  };
}

// Routes each row, sets aside the poison ones (unroutable, oversized) and adds the rest, one
// addBulk per queue. A failing addBulk is retried job by job to find the row at fault.
export async function publishRows(
  rows: readonly OutboxRow[],
  deps: { addBulk: AddBulk; isRedisReady: () => boolean; maxPayloadBytes: number },
): Promise<BatchOutcome> {
  const failed = new Map<string, string>();
  const byQueue = new Map<QueueName, Array<{ row: OutboxRow; job: JobSpec }>>();
  for (const row of rows) {
    const queues = routeFor(row.event_type);
    if (!queues) {
      failed.set(row.id, `no route for event type "${row.event_type}": add it to ROUTES in src/events/routing.ts, then requeue the row`);
      continue;
    }
    if (row.payload_bytes > deps.maxPayloadBytes) {
      failed.set(row.id, `payload is ${row.payload_bytes} bytes, over RELAY_MAX_PAYLOAD_BYTES (${deps.maxPayloadBytes})`);
      continue;
    }
    const job = jobFor(row);
    for (const queue of queues) {
      const list = byQueue.get(queue) ?? [];
      list.push({ row, job });
      byQueue.set(queue, list);
    }
  }

  await Promise.all(
    [...byQueue].map(async ([queue, entries]) => {
      try {
        await deps.addBulk(queue, entries.map((e) => e.job));
      } catch (err) {
        if (isInfrastructureError(err, deps.isRedisReady)) throw new RedisUnavailableError(describe(err));
        for (const { row, job } of entries) {
          try {
            await deps.addBulk(queue, [job]);
          } catch (jobErr) {
            if (isInfrastructureError(jobErr, deps.isRedisReady)) throw new RedisUnavailableError(describe(jobErr));
            failed.set(row.id, `adding to queue ${queue} failed: ${describe(jobErr)}`);
          }
        }
      }
    }),
  );

  return {
    published: rows.filter((r) => !failed.has(r.id)).map((r) => r.id),
    failed: [...failed].map(([id, error]) => ({ id, error })),
  };
}

// Timeouts and closed connections are Redis's state, not the row's, even when ioredis says "ready".
const CONNECTION_TROUBLE = /timed out|ECONN|EPIPE|Connection is closed|Stream isn't writeable|LOADING|READONLY|CLUSTERDOWN|TRYAGAIN/i;

function isInfrastructureError(err: unknown, isRedisReady: () => boolean): boolean {
  return !isRedisReady() || CONNECTION_TROUBLE.test(describe(err));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
