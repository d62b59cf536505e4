import { describe, expect, it } from 'vitest';
import type { UnconfirmedRow } from '../db/reconcile.ts';
import { judgeRow } from './reconciler.ts';

const row = (event_type: string, consumers_done: string[] = []): UnconfirmedRow => ({ id: 'r1', event_type, published_at: new Date(), consumers_done });
const states = (map: Record<string, string>) => async (queue: string) => map[queue] ?? 'unknown';

describe('judgeRow', () => {
  it('confirms a row every consumer recorded, without asking Redis', async () => {
    const never = async () => {
      throw new Error('Redis must not be asked');
    };
    expect(await judgeRow(row('order.paid', ['delivery', 'invoice']), never)).toBe('confirm');
    expect(await judgeRow(row('order.delivered'), never)).toBe('confirm'); // routed nowhere
  });

  it('confirms a row whose job ended for good (a declined payment stays failed)', async () => {
    expect(await judgeRow(row('order.created'), states({ payments: 'failed' }))).toBe('confirm');
    expect(await judgeRow(row('order.created'), states({ payments: 'completed' }))).toBe('confirm');
  });

  it('waits while a job is still queued or running', async () => {
    for (const state of ['waiting', 'active', 'delayed', 'prioritized']) {
      expect(await judgeRow(row('order.created'), states({ payments: state }))).toBe('wait');
    }
  });

  it('republishes when Redis lost the job of a consumer that never recorded it', async () => {
    expect(await judgeRow(row('order.created'), states({}))).toBe('republish');
    // Delivery recorded it, but the invoice job is gone.
    expect(await judgeRow(row('order.paid', ['delivery']), states({ deliveries: 'completed' }))).toBe('republish');
  });
});
