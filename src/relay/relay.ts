// The relay: claims committed outbox rows, adds them to BullMQ and marks them published, in a few
// concurrent loops so one batch is read while another is being added. It wakes on a signal (an
// in-process hand-off or a NOTIFY) and polls as a fallback, so nothing waits on the signal alone.
import { setTimeout } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { OutboxRow } from '../db/outbox.ts';
import type { BatchOutcome } from './publish.ts';
import { traceIdOf } from '../tracing.ts';
import { WakeSignal } from './wake-signal.ts';

export interface RelayDeps {
  // Claims up to `limit` rows in a transaction, hands them to `publish`, records its outcome and
  // commits; returns how many rows it claimed. The rows stay locked until it returns.
  processBatch: (limit: number, publish: (rows: OutboxRow[]) => Promise<BatchOutcome>) => Promise<number>;
  publish: (rows: OutboxRow[]) => Promise<BatchOutcome>;
  log: Logger;
  batchSize: number;
  concurrency: number;
  pollIntervalMs: number;
  // Under a stream of wake-ups, a loop claims at most once per this many ms, so each claim takes
  // a batch instead of a row or two; at a low rate (a wake-up now and then) it claims at once.
  coalesceMs?: number;
  onBatch?: (outcome: BatchOutcome, ms: number) => void;
}

export interface Relay {
  start(): void;
  stop(): Promise<void>;
  wake(): void;
}

const MAX_BACKOFF_MS = 2000;

export function createRelay(deps: RelayDeps): Relay {
  const signal = new WakeSignal();
  let running = false;
  let loops: Promise<void>[] = [];

  const publishAndReport = async (rows: OutboxRow[]) => {
    const started = performance.now();
    const outcome = await deps.publish(rows);
    for (const f of outcome.failed) deps.log.warn({ outbox_id: f.id, error: f.error }, 'outbox row could not be published');
    if (deps.log.isLevelEnabled('debug')) {
      const published = new Set(outcome.published);
      for (const row of rows) {
        if (published.has(row.id)) {
          deps.log.debug({ outbox_id: row.id, order_id: row.aggregate_id, event_type: row.event_type, trace_id: traceIdOf(row.headers?.traceparent) }, 'event published');
        }
      }
    }
    deps.onBatch?.(outcome, performance.now() - started);
    return outcome;
  };

  async function loop(): Promise<void> {
    let backoffMs = 0;
    let lastClaimAt = -Infinity;
    let lastWasFull = false;
    while (running) {
      try {
        const sinceLast = performance.now() - lastClaimAt;
        // A backlog (the last batch was full) is drained flat out; only trickles are coalesced.
        if (deps.coalesceMs && !lastWasFull && sinceLast < deps.coalesceMs) await setTimeout(deps.coalesceMs - sinceLast);
        lastClaimAt = performance.now();
        const claimed = await deps.processBatch(deps.batchSize, publishAndReport);
        lastWasFull = claimed >= deps.batchSize;
        if (backoffMs > 0) deps.log.info('relay recovered; publishing again');
        backoffMs = 0;
        if (!running) break;
        if (claimed >= deps.batchSize) {
          signal.notify(); // a full batch: there is probably more, so bring in another loop too
          continue;
        }
        await signal.wait(deps.pollIntervalMs);
      } catch (err) {
        backoffMs = Math.min(Math.max(backoffMs * 2, 50), MAX_BACKOFF_MS);
        deps.log.warn({ err: err instanceof Error ? err.message : String(err), retry_in_ms: backoffMs }, 'relay batch failed; rolled back, will retry');
        if (running) await signal.wait(backoffMs);
      }
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      loops = Array.from({ length: deps.concurrency }, () => loop());
    },
    async stop() {
      if (!running) return;
      running = false;
      signal.notifyAll();
      await Promise.all(loops);
      loops = [];
    },
    wake: () => signal.notify(),
  };
}
