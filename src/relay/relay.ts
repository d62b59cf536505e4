// The relay: claims committed outbox rows, adds them to BullMQ and marks them published, in a few
// concurrent loops so one batch is read while another is being added. It wakes on a signal (an
// in-process hand-off or a NOTIFY) and polls as a fallback, so nothing waits on the signal alone.
import { setTimeout } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ClaimOrder, OutboxRow } from '../db/outbox.ts';
import { isRedisOutOfMemory, type BatchOutcome } from './publish.ts';
import { traceIdOf } from '../tracing.ts';
import { StreamRate } from './stream-rate.ts';
import { WakeSignal } from './wake-signal.ts';

export interface RelayDeps {
  // Claims up to `limit` rows (oldest or newest first) in a transaction, hands them to `publish`,
  // records its outcome and commits; returns how many rows it claimed. The rows stay locked until
  // it returns.
  processBatch: (limit: number, publish: (rows: OutboxRow[]) => Promise<BatchOutcome>, order: ClaimOrder) => Promise<number>;
  publish: (rows: OutboxRow[]) => Promise<BatchOutcome>;
  log: Logger;
  batchSize: number;
  concurrency: number;
  pollIntervalMs: number;
  // The most a small claim waits behind the previous one under a heavy stream of wake-ups (see
  // smallClaimGapMs); a lone wake-up is served at once, and full batches (a backlog) are claimed
  // flat out by every loop.
  coalesceMs?: number;
  onBatch?: (outcome: BatchOutcome, ms: number) => void;
}

export interface Relay {
  start(): void;
  stop(): Promise<void>;
  wake(): void;
}

const MAX_BACKOFF_MS = 2000;

// Each claim costs a transaction (two round trips to Postgres, one to Redis) whatever it carries,
// so under a stream the relay spaces small claims, relay-wide, in proportion to the stream's rate:
// λ rows/s gives λ/100 ms (a claim then carries about λ²/100 000 rows: 1 at 300/s, 2.5 at 500/s,
// 40 at 2 000/s), up to `maxMs`. A light stream keeps its latency (a gap of a few ms at most),
// and a heavy one, which would otherwise spend a CPU core on near-empty transactions, gets the
// batches it needs.
export function smallClaimGapMs(rowsPerSecond: number, maxMs: number): number {
  return Math.min(maxMs, rowsPerSecond / 100);
}

export function createRelay(deps: RelayDeps): Relay {
  const signal = new WakeSignal();
  let running = false;
  let loops: Promise<void>[] = [];
  // An outage (Redis or Postgres away, Redis full) is the relay's, not one loop's: every loop
  // waits it out together, one line says so per step of the backoff, and wake-ups (every new order
  // sends one) do not cut the wait short. Date.now(), not performance.now(): the tests fake it.
  let backoffMs = 0;
  let retryAt = 0;
  let stopping = new AbortController();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = globalThis.setTimeout(done, ms);
      stopping.signal.addEventListener('abort', done);
    });

  function recordFailure(err: unknown): void {
    if (Date.now() < retryAt) return; // another loop already stepped the backoff for this failure
    backoffMs = Math.min(Math.max(backoffMs * 2, 50), MAX_BACKOFF_MS);
    retryAt = Date.now() + backoffMs;
    const message = err instanceof Error ? err.message : String(err);
    if (isRedisOutOfMemory(message)) {
      deps.log.warn(
        { retry_in_ms: backoffMs },
        'Redis is out of memory (maxmemory reached): events are kept in the outbox and published once memory is freed; raise maxmemory or free memory',
      );
    } else deps.log.warn({ err: message, retry_in_ms: backoffMs }, 'relay batch failed; rolled back, will retry');
  }

  const publishAndReport = async (rows: OutboxRow[]) => {
    const started = performance.now();
    const outcome = await deps.publish(rows);
    for (const f of outcome.failed) deps.log.warn({ outbox_id: f.id, error: f.error }, 'outbox row could not be published');
    if (deps.log.isLevelEnabled('debug')) {
      const published = new Set(outcome.published);
      for (const row of rows) {
        if (published.has(row.id)) {
          deps.log.debug(
            { outbox_id: row.id, [`${row.aggregate_type}_id`]: row.aggregate_id, event_type: row.event_type, trace_id: traceIdOf(row.headers?.traceparent) },
            'event published',
          );
        }
      }
    }
    deps.onBatch?.(outcome, performance.now() - started);
    return outcome;
  };

  // One loop per wake-up is enough for a trickle: the others wait for the next.
  let nextSmallClaimAt = -Infinity;
  let smallClaimScheduled = false;
  const streamRate = new StreamRate(250);

  // Resolves false when this loop should not claim now: another loop is already waiting for the
  // next slot and will take the rows this wake-up was for.
  async function awaitSmallClaimSlot(): Promise<boolean> {
    if (!deps.coalesceMs) return true;
    if (smallClaimScheduled) return false;
    const now = performance.now();
    const at = Math.max(now, nextSmallClaimAt);
    nextSmallClaimAt = at + smallClaimGapMs(streamRate.perSecond(), deps.coalesceMs);
    if (at > now) {
      smallClaimScheduled = true;
      try {
        await setTimeout(at - now);
      } finally {
        smallClaimScheduled = false;
      }
    }
    return true;
  }

  // The second loop claims newest first: behind a backlog (after an outage) new orders are
  // published at once instead of after the whole backlog, while the other loops drain it oldest
  // first. An order has one event waiting at most (the next is written by the step that consumes
  // the one before), and each step checks the order's status rather than trusting event order.
  async function loop(order: ClaimOrder): Promise<void> {
    let lastWasFull = false;
    while (running) {
      try {
        const outageLeftMs = retryAt - Date.now();
        if (outageLeftMs > 0) {
          await pause(outageLeftMs);
          continue;
        }
        // A backlog (the last batch was full) is drained flat out; only trickles are coalesced.
        if (!lastWasFull && !(await awaitSmallClaimSlot())) {
          await signal.wait(deps.pollIntervalMs);
          continue;
        }
        if (!running) break;
        const claimed = await deps.processBatch(deps.batchSize, publishAndReport, order);
        streamRate.add(claimed);
        lastWasFull = claimed >= deps.batchSize;
        if (backoffMs > 0) deps.log.info('relay recovered; publishing again');
        backoffMs = 0;
        retryAt = 0;
        if (!running) break;
        if (lastWasFull) {
          signal.notify(); // a full batch: there is probably more, so bring in another loop too
          continue;
        }
        await signal.wait(deps.pollIntervalMs);
      } catch (err) {
        lastWasFull = false;
        recordFailure(err);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopping = new AbortController();
      loops = Array.from({ length: deps.concurrency }, (_, i) => loop(i === 1 ? 'newest' : 'oldest'));
    },
    async stop() {
      if (!running) return;
      running = false;
      stopping.abort();
      signal.notifyAll();
      await Promise.all(loops);
      loops = [];
    },
    wake: () => signal.notify(),
  };
}
