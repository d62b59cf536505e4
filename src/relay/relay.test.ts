// The relay loop with narrow fake functions: no database, no Redis.
import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { createLogger } from '../logger.ts';
import type { OutboxRow } from '../db/outbox.ts';
import type { BatchOutcome } from './publish.ts';
import { createRelay, smallClaimGapMs } from './relay.ts';

const log = createLogger('silent', 'test');
const publishAll = async (rows: OutboxRow[]): Promise<BatchOutcome> => ({ published: rows.map((r) => r.id), unrouted: [], failed: [] });

function fakeOutbox(count: number) {
  const pending = Array.from({ length: count }, (_, i) => ({ id: `row-${i}` }) as OutboxRow);
  const published: string[] = [];
  return {
    pending,
    published,
    processBatch: async (limit: number, publish: (rows: OutboxRow[]) => Promise<BatchOutcome>) => {
      const rows = pending.splice(0, limit);
      if (rows.length === 0) return 0;
      const outcome = await publish(rows);
      published.push(...outcome.published);
      return rows.length;
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('createRelay', () => {
  it('drains a backlog in full batches without waiting for the poll', async () => {
    const outbox = fakeOutbox(1050);
    const relay = createRelay({ processBatch: outbox.processBatch, publish: publishAll, log, batchSize: 100, concurrency: 2, pollIntervalMs: 600_000 });
    relay.start();
    await until(() => outbox.published.length === 1050);
    await relay.stop();
    expect(new Set(outbox.published).size).toBe(1050);
  });

  it('wakes on a signal instead of waiting for the poll', async () => {
    const outbox = fakeOutbox(0);
    const relay = createRelay({ processBatch: outbox.processBatch, publish: publishAll, log, batchSize: 100, concurrency: 1, pollIntervalMs: 600_000 });
    relay.start();
    await new Promise((r) => setImmediate(r));
    outbox.pending.push({ id: 'late' } as OutboxRow);
    relay.wake();
    await until(() => outbox.published.includes('late'));
    await relay.stop();
  });

  it('spaces small claims relay-wide under a heavy stream of wake-ups, whichever loop makes them', async () => {
    const outbox = fakeOutbox(0);
    const claimStarts: number[] = [];
    const relay = createRelay({
      processBatch: (limit, publish) => {
        claimStarts.push(performance.now());
        return outbox.processBatch(limit, publish);
      },
      publish: publishAll,
      log,
      batchSize: 1_000_000, // every claim is a small one
      concurrency: 3,
      pollIntervalMs: 600_000,
      coalesceMs: 20,
    });
    relay.start();
    const stream = setInterval(() => {
      // 50 rows a millisecond at most: a stream heavy enough for the widest spacing
      for (let i = 0; i < 50; i++) outbox.pending.push({ id: `r-${Math.random()}` } as OutboxRow);
      relay.wake();
    }, 1);
    // The relay measures the stream over a quarter of a second before it spaces claims fully.
    const measuredFrom = performance.now() + 750;
    const settled = () => claimStarts.filter((t) => t >= measuredFrom);
    await until(() => settled().length >= 11);
    clearInterval(stream);
    relay.wake();
    await until(() => outbox.pending.length === 0);
    await relay.stop();
    // Each claim is scheduled 20 ms after the previous one's slot; a timer can fire late but never
    // early, so ten gaps span at least 200 ms less how late the first of them fired.
    const starts = settled().slice(0, 11);
    expect(starts[10]! - starts[0]!).toBeGreaterThanOrEqual(180);
    expect(outbox.published.length).toBeGreaterThan(claimStarts.length); // claims took several rows each
  });

  describe('after a failing batch', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    // A processBatch that fails or succeeds as scripted, recording the (fake) time of each call.
    function scriptedBatches(script: Array<'fail' | 'ok'>) {
      const calls: number[] = [];
      const processBatch = async () => {
        calls.push(Date.now());
        const step = script.shift() ?? 'ok';
        if (step === 'fail') throw new Error('redis unavailable');
        return 0; // nothing claimed: the loop then waits for the poll or a wake-up
      };
      return { calls, processBatch };
    }

    // Lets the loop run what it can without moving the clock.
    const settle = () => vi.advanceTimersByTimeAsync(0);

    // The next call comes exactly `ms` after the last one: not a millisecond sooner.
    async function expectNextCallAfter(calls: number[], ms: number) {
      const before = calls.length;
      await vi.advanceTimersByTimeAsync(ms - 1);
      expect(calls.length, `no retry before ${ms} ms`).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls.length, `a retry at ${ms} ms`).toBe(before + 1);
      expect(calls[before]! - calls[before - 1]!).toBe(ms);
    }

    it('waits before each retry, twice as long each time up to 2 s, and starts again from 50 ms after a success', async () => {
      vi.useFakeTimers();
      const { calls, processBatch } = scriptedBatches(['fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'ok', 'fail', 'fail', 'ok']);
      const relay = createRelay({ processBatch, publish: publishAll, log, batchSize: 100, concurrency: 1, pollIntervalMs: 600_000 });
      relay.start();
      await settle();
      expect(calls).toHaveLength(1); // the first batch fails at once

      for (const ms of [50, 100, 200, 400, 800, 1600, 2000, 2000]) await expectNextCallAfter(calls, ms);
      expect(calls).toHaveLength(9); // the ninth batch succeeds

      // Then the loop waits for the poll: no call for a long while.
      await vi.advanceTimersByTimeAsync(100_000);
      expect(calls).toHaveLength(9);

      // A wake-up brings two more failures: the backoff starts from the bottom again.
      relay.wake();
      await settle();
      expect(calls).toHaveLength(10);
      await expectNextCallAfter(calls, 50);
      await expectNextCallAfter(calls, 100);
      expect(calls).toHaveLength(12); // and that one succeeds

      await vi.advanceTimersByTimeAsync(100_000);
      expect(calls).toHaveLength(12);
      await relay.stop();
    });

    it('waits an outage out as a whole: wake-ups do not cut the wait short, and one line per step however many loops', async () => {
      vi.useFakeTimers();
      const { calls, processBatch } = scriptedBatches(Array.from({ length: 100 }, () => 'fail' as const));
      const lines: string[] = [];
      const counting = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
      const relay = createRelay({ processBatch, publish: publishAll, log: counting, batchSize: 100, concurrency: 3, pollIntervalMs: 600_000 });
      relay.start();
      await settle();
      expect(calls).toHaveLength(3); // each loop tried once; the backoff is now 50 ms
      expect(lines).toHaveLength(1);
      for (let i = 0; i < 20; i++) relay.wake(); // orders keep arriving during the outage
      await vi.advanceTimersByTimeAsync(49);
      expect(calls).toHaveLength(3); // no retry before the backoff ends, whatever the wake-ups
      await vi.advanceTimersByTimeAsync(1 + 100 + 200);
      // After the first round, one probe per step of the backoff (at 50, 150 and 350 ms), not one
      // per loop, and one line per step.
      expect(calls).toHaveLength(6);
      expect(lines).toHaveLength(4);
      await relay.stop();
    });

    it('stops at once while waiting out a backoff', async () => {
      vi.useFakeTimers();
      const { calls, processBatch } = scriptedBatches(Array.from({ length: 100 }, () => 'fail' as const));
      const relay = createRelay({ processBatch, publish: publishAll, log, batchSize: 100, concurrency: 1, pollIntervalMs: 600_000 });
      relay.start();
      await settle();
      await vi.advanceTimersByTimeAsync(50 + 100 + 200 + 400 + 800);
      expect(calls).toHaveLength(6); // now waiting 1.6 s
      let stopped = false;
      const stopping = relay.stop().then(() => (stopped = true));
      await settle(); // the clock does not move
      expect(stopped).toBe(true);
      await stopping;
      expect(calls).toHaveLength(6); // no further attempt
    });
  });

  it('stops promptly while waiting for the poll', async () => {
    const relay = createRelay({ processBatch: fakeOutbox(0).processBatch, publish: publishAll, log, batchSize: 10, concurrency: 3, pollIntervalMs: 600_000 });
    relay.start();
    await new Promise((r) => setImmediate(r));
    await relay.stop(); // would hang for ten minutes if stop did not wake the loops
  });
});

describe('smallClaimGapMs', () => {
  it('grows with the stream, so a light one keeps its latency and a heavy one gets batches', () => {
    expect(smallClaimGapMs(0, 20)).toBe(0);
    expect(smallClaimGapMs(300, 20)).toBe(3);
    expect(smallClaimGapMs(1000, 20)).toBe(10);
    expect(smallClaimGapMs(50_000, 20)).toBe(20);
  });
});
