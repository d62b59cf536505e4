// Turns claimed outbox rows into BullMQ jobs. jobId = outbox id, so adding a row again (after a
// crash between add and mark) is a no-op while the job is still in Redis.
import type { JobsOptions } from 'bullmq';
import type { OutboxRow } from '../db/outbox.ts';
import type { OutboxJobData } from '../engine/events.ts';
import type { Signer } from '../engine/signing.ts';
import type { Topology } from '../engine/topology.ts';
import { traceBatch } from '../tracing.ts';

export interface BatchOutcome {
  published: string[];
  // Of the published rows, those routed to no queue: nothing will ever confirm them, so the claim
  // marks them confirmed with their publication (src/db/outbox.ts).
  unrouted: string[];
  failed: Array<{ id: string; error: string }>;
}

export interface JobSpec {
  name: string;
  data: OutboxJobData;
  opts: JobsOptions;
}

// The subset of BullMQ's Queue the relay uses.
export type AddBulk = (queue: string, jobs: JobSpec[]) => Promise<unknown>;

// Thrown when Redis itself is unavailable: nothing in the batch is the rows' fault, so the relay
// rolls the batch back and backs off without counting attempts.
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export function jobFor(row: OutboxRow, signer?: Signer): JobSpec {
  const data: OutboxJobData = {
    outboxId: row.id,
    eventType: row.event_type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    payload: row.payload,
    headers: row.headers,
  };
  if (signer) data.signature = signer.sign(data);
  return { name: row.event_type, data, opts: { jobId: row.id } };
}

export interface PublishDeps {
  topology: Topology;
  signer?: Signer | undefined;
  addBulk: AddBulk;
  isRedisReady: () => boolean;
  maxPayloadBytes: number;
}

// Routes each row, sets aside the poison ones (unroutable, oversized) and adds the rest, one
// addBulk per queue. A failing addBulk is retried job by job to find the row at fault.
export async function publishRows(rows: readonly OutboxRow[], deps: PublishDeps): Promise<BatchOutcome> {
  const failed = new Map<string, string>();
  const unrouted: string[] = [];
  const byQueue = new Map<string, Array<{ row: OutboxRow; job: JobSpec }>>();
  for (const row of rows) {
    const queues = deps.topology.routeFor(row.event_type);
    if (!queues) {
      failed.set(row.id, `no route for event type "${row.event_type}": add it to the routes of the service's topology, then requeue the row`);
      continue;
    }
    if (queues.length === 0) {
      unrouted.push(row.id);
      continue;
    }
    if (row.payload_bytes > deps.maxPayloadBytes) {
      failed.set(row.id, `payload is ${row.payload_bytes} bytes, over RELAY_MAX_PAYLOAD_BYTES (${deps.maxPayloadBytes})`);
      continue;
    }
    const job = jobFor(row, deps.signer);
    for (const queue of queues) {
      const list = byQueue.get(queue) ?? [];
      list.push({ row, job });
      byQueue.set(queue, list);
    }
  }

  await Promise.all([...byQueue].map(([queue, entries]) => addToQueue(queue, entries, deps, failed)));

  return {
    published: rows.filter((r) => !failed.has(r.id)).map((r) => r.id),
    unrouted,
    failed: [...failed].map(([id, error]) => ({ id, error })),
  };
}

// One addBulk for the queue's jobs, in the batch's spans (src/tracing.ts traceBatch); when it fails,
// job by job to find the rows at fault.
async function addToQueue(queue: string, entries: Array<{ row: OutboxRow; job: JobSpec }>, deps: PublishDeps, failed: Map<string, string>): Promise<void> {
  const traced = traceBatch(
    queue,
    entries.map((e) => ({ id: e.row.id, headers: e.job.data.headers ?? {} })),
  );
  // Each job carries its own `create` span's context (a row routed to two queues gets two).
  const jobs = entries.map((e, i) => withHeaders(e.job, traced.headers[i]!));
  await traced.send(async () => {
    try {
      await deps.addBulk(queue, jobs);
    } catch (err) {
      if (isInfrastructureError(err, deps.isRedisReady)) throw new RedisUnavailableError(describe(err), { cause: err });
      for (const [i, { row }] of entries.entries()) {
        try {
          await deps.addBulk(queue, [jobs[i]!]);
        } catch (jobErr) {
          if (isInfrastructureError(jobErr, deps.isRedisReady)) throw new RedisUnavailableError(describe(jobErr), { cause: jobErr });
          const error = `adding to queue ${queue} failed: ${describe(jobErr)}`;
          failed.set(row.id, error);
          traced.fail(i, error);
        }
      }
    }
  });
}

function withHeaders(job: JobSpec, headers: JobSpec['data']['headers']): JobSpec {
  return headers === job.data.headers ? job : { ...job, data: { ...job.data, headers } };
}

// Timeouts and closed connections are Redis's state, not the row's, even when ioredis says "ready".
// So is a full Redis (OOM: maxmemory reached under noeviction): an outage, never a bad row, so it
// spends no row's attempts and marks nothing dead however long it lasts.
const CONNECTION_TROUBLE = /timed out|ECONN|EPIPE|Connection is closed|Stream isn't writeable|LOADING|READONLY|CLUSTERDOWN|TRYAGAIN|OOM command not allowed/i;

// Redis refusing writes because it is full.
export const isRedisOutOfMemory = (message: string) => /\bOOM command not allowed\b/.test(message);

function isInfrastructureError(err: unknown, isRedisReady: () => boolean): boolean {
  return !isRedisReady() || CONNECTION_TROUBLE.test(describe(err));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
