import { describe, expect, it } from 'vitest';
import type { UnconfirmedRow } from '../db/reconcile.ts';
import { defineTopology } from '../engine/topology.ts';
import { createLogger } from '../logger.ts';
import { createReconciler, judgeRow, type Verdict } from './reconciler.ts';

// A topology of the test's own: 'x.split' goes to two queues, each with its own inbox consumer.
const topology = defineTopology({
  queues: { a: { consumer: 'ca' }, b: { consumer: 'cb' } },
  routes: { 'x.made': ['a'], 'x.split': ['a', 'b'], 'x.noted': [] },
});

const row = (event_type: string, consumers_done: string[] = [], id = 'r1'): UnconfirmedRow => ({ id, event_type, published_at: new Date(), consumers_done });
const states = (map: Record<string, string>) => async (queue: string) => map[queue] ?? 'unknown';
const never = async (): Promise<string> => {
  throw new Error('Redis must not be asked');
};

describe('judgeRow', () => {
  it('confirms a row every consumer recorded, without asking Redis', async () => {
    expect(await judgeRow(row('x.split', ['ca', 'cb']), topology, never)).toBe('confirm');
    expect(await judgeRow(row('x.made', ['ca']), topology, never)).toBe('confirm');
    expect(await judgeRow(row('x.noted'), topology, never)).toBe('confirm'); // routed nowhere
  });

  it('confirms a row whose job ended for good (a consumer in another database, or a job that failed for good)', async () => {
    expect(await judgeRow(row('x.made'), topology, states({ a: 'failed' }))).toBe('confirm');
    expect(await judgeRow(row('x.made'), topology, states({ a: 'completed' }))).toBe('confirm');
    expect(await judgeRow(row('x.split', ['ca']), topology, states({ b: 'completed' }))).toBe('confirm');
  });

  it('asks Redis only about the queues whose consumer has not recorded the row', async () => {
    const asked: string[] = [];
    const verdict = await judgeRow(row('x.split', ['cb']), topology, async (queue, id) => {
      asked.push(`${queue}/${id}`);
      return 'completed';
    });
    expect(verdict).toBe('confirm');
    expect(asked).toEqual(['a/r1']);
  });

  it('waits while a job is still queued or running', async () => {
    for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']) {
      expect(await judgeRow(row('x.made'), topology, states({ a: state }))).toBe('wait');
    }
    expect(await judgeRow(row('x.split'), topology, states({ a: 'completed', b: 'active' }))).toBe('wait');
  });

  it('republishes when Redis lost the job of a consumer that never recorded it', async () => {
    expect(await judgeRow(row('x.made'), topology, states({}))).toBe('republish');
    // One consumer recorded it, but the other's job is gone.
    expect(await judgeRow(row('x.split', ['ca']), topology, states({ a: 'completed' }))).toBe('republish');
    // A lost job outweighs one still waiting in another queue.
    expect(await judgeRow(row('x.split'), topology, states({ a: 'waiting' }))).toBe('republish');
  });

  it("uses the topology it is given, not another service's", async () => {
    const other = defineTopology({ queues: { q: { consumer: 'cq' } }, routes: { 'x.made': ['q'] } });
    expect(await judgeRow(row('x.made', ['cq']), other, never)).toBe('confirm');
    expect(await judgeRow(row('x.made', ['ca']), other, states({}))).toBe('republish');
  });
});

describe('createReconciler', () => {
  it('judges each page with its topology, counts the verdicts and wakes the relay for republished rows', async () => {
    const pages: UnconfirmedRow[][] = [[row('x.made', ['ca'], 'p1-confirm'), row('x.made', [], 'p1-lost')], [row('x.split', ['ca'], 'p2-waiting')]];
    const applied: Array<Map<string, Verdict>> = [];
    const republished: number[] = [];
    const reconciler = createReconciler({
      reconcilePage: async (cursor, judge) => {
        const rows = pages[cursor ? 1 : 0]!;
        applied.push(await judge(rows));
        return rows;
      },
      topology,
      jobState: async (queue, id) => (id === 'p2-waiting' && queue === 'b' ? 'delayed' : 'unknown'),
      onRepublished: (n) => republished.push(n),
      log: createLogger('silent', 'test'),
      intervalMs: 60_000,
      pageSize: 2,
    });
    expect(await reconciler.pass()).toEqual({ confirmed: 1, republished: 1 });
    expect(applied.map((m) => Object.fromEntries(m))).toEqual([{ 'p1-confirm': 'confirm', 'p1-lost': 'republish' }, { 'p2-waiting': 'wait' }]);
    expect(republished).toEqual([1]);
  });
});
