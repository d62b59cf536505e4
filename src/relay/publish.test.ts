import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../db/outbox.ts';
import { publishRows, RedisUnavailableError, type AddBulk, type JobSpec } from './publish.ts';

function row(overrides: Partial<OutboxRow> = {}): OutboxRow {
  const id = crypto.randomUUID();
  return {
    id,
    aggregate_type: 'order',
    aggregate_id: crypto.randomUUID(),
    event_type: 'order.created',
    payload: {},
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    created_at: new Date(),
    attempts: 0,
    payload_bytes: 2,
    ...overrides,
  };
}

function recordingAdd(fail?: (queue: string, jobs: JobSpec[]) => Error | undefined) {
  const added: Array<{ queue: string; jobId: string }> = [];
  const addBulk: AddBulk = async (queue, jobs) => {
    const error = fail?.(queue, jobs);
    if (error) throw error;
    for (const job of jobs) added.push({ queue, jobId: String(job.opts.jobId) });
  };
  return { added, addBulk };
}

const deps = (addBulk: AddBulk, ready = true) => ({ addBulk, isRedisReady: () => ready, maxPayloadBytes: 1000 });

describe('publishRows', () => {
  it('routes each event to its queues with the outbox id as job id', async () => {
    const created = row();
    const paid = row({ event_type: 'order.paid' });
    const delivered = row({ event_type: 'order.delivered' });
    const { added, addBulk } = recordingAdd();
    const outcome = await publishRows([created, paid, delivered], deps(addBulk));
    expect(outcome.failed).toEqual([]);
    expect(outcome.published).toEqual([created.id, paid.id, delivered.id]);
    expect(added).toEqual(
      expect.arrayContaining([
        { queue: 'payments', jobId: created.id },
        { queue: 'deliveries', jobId: paid.id },
        { queue: 'invoices', jobId: paid.id },
      ]),
    );
    expect(added).toHaveLength(3); // order.delivered goes to no queue but is still published
  });

  it('sets poison rows aside with a reason and publishes the rest', async () => {
    const good = row();
    const unroutable = row({ event_type: 'order.teleported' });
    const oversized = row({ payload_bytes: 5000 });
    const { added, addBulk } = recordingAdd();
    const outcome = await publishRows([unroutable, good, oversized], deps(addBulk));
    expect(outcome.published).toEqual([good.id]);
    expect(outcome.failed).toEqual([
      { id: unroutable.id, error: expect.stringContaining('no route for event type "order.teleported"') },
      { id: oversized.id, error: expect.stringContaining('over RELAY_MAX_PAYLOAD_BYTES') },
    ]);
    expect(added).toEqual([{ queue: 'payments', jobId: good.id }]);
  });

  it('finds the one job Redis refuses by retrying the batch job by job', async () => {
    const good = row();
    const bad = row();
    const { added, addBulk } = recordingAdd((_, jobs) => (jobs.some((j) => j.opts.jobId === bad.id) ? new Error('ERR value too large') : undefined));
    const outcome = await publishRows([good, bad], deps(addBulk));
    expect(outcome.published).toEqual([good.id]);
    expect(outcome.failed).toEqual([{ id: bad.id, error: expect.stringContaining('value too large') }]);
    expect(added).toEqual([{ queue: 'payments', jobId: good.id }]);
  });

  it('blames Redis, not the rows, when Redis is unavailable', async () => {
    const { addBulk } = recordingAdd(() => new Error("Stream isn't writeable and enableOfflineQueue options is false"));
    await expect(publishRows([row(), row()], deps(addBulk, false))).rejects.toBeInstanceOf(RedisUnavailableError);
  });

  it('treats a command timeout as Redis trouble even while connected', async () => {
    const { addBulk } = recordingAdd(() => new Error('Command timed out'));
    await expect(publishRows([row()], deps(addBulk, true))).rejects.toBeInstanceOf(RedisUnavailableError);
  });
});
