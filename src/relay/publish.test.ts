import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '../db/outbox.ts';
import { createSigner } from '../engine/signing.ts';
import { defineTopology } from '../engine/topology.ts';
import { publishRows, RedisUnavailableError, type AddBulk, type JobSpec, type PublishDeps } from './publish.ts';

// A topology of the test's own: the relay knows nothing of any domain.
const topology = defineTopology({
  queues: { a: { consumer: 'ca' }, b: { consumer: 'cb' } },
  routes: { 'x.made': ['a'], 'x.split': ['a', 'b'], 'x.noted': [] },
});

function row(overrides: Partial<OutboxRow> = {}): OutboxRow {
  const id = crypto.randomUUID();
  return {
    id,
    aggregate_type: 'thing',
    aggregate_id: crypto.randomUUID(),
    event_type: 'x.made',
    payload: { n: 1 },
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    created_at: new Date(),
    attempts: 0,
    payload_bytes: 8,
    ...overrides,
  };
}

function recordingAdd(fail?: (queue: string, jobs: JobSpec[]) => Error | undefined) {
  const added: Array<{ queue: string; jobId: string }> = [];
  const jobs: Array<{ queue: string; job: JobSpec }> = [];
  const addBulk: AddBulk = async (queue, batch) => {
    const error = fail?.(queue, batch);
    if (error) throw error;
    for (const job of batch) {
      added.push({ queue, jobId: String(job.opts.jobId) });
      jobs.push({ queue, job });
    }
  };
  return { added, jobs, addBulk };
}

const deps = (addBulk: AddBulk, ready = true, extra: Partial<PublishDeps> = {}): PublishDeps => ({
  topology,
  addBulk,
  isRedisReady: () => ready,
  maxPayloadBytes: 1000,
  ...extra,
});

describe('publishRows', () => {
  it('routes each event to its queues with the outbox id as job id', async () => {
    const made = row();
    const split = row({ event_type: 'x.split' });
    const noted = row({ event_type: 'x.noted' });
    const { added, addBulk } = recordingAdd();
    const outcome = await publishRows([made, split, noted], deps(addBulk));
    expect(outcome.failed).toEqual([]);
    expect(outcome.published).toEqual([made.id, split.id, noted.id]);
    expect(added).toEqual(
      expect.arrayContaining([
        { queue: 'a', jobId: made.id },
        { queue: 'a', jobId: split.id },
        { queue: 'b', jobId: split.id },
      ]),
    );
    expect(added).toHaveLength(3);
  });

  it('publishes an event routed to no queue, as unrouted, without adding a job for it', async () => {
    const made = row();
    const noted = row({ event_type: 'x.noted' });
    const { added, addBulk } = recordingAdd();
    const outcome = await publishRows([noted, made], deps(addBulk));
    expect(outcome.published).toEqual([noted.id, made.id]);
    expect(outcome.unrouted).toEqual([noted.id]); // confirmed with its publication
    expect(outcome.failed).toEqual([]);
    expect(added).toEqual([{ queue: 'a', jobId: made.id }]);
  });

  it('makes no Redis call for a batch routed nowhere', async () => {
    const notes = [row({ event_type: 'x.noted' }), row({ event_type: 'x.noted' })];
    const addBulk: AddBulk = async () => {
      throw new Error('Redis must not be asked');
    };
    const outcome = await publishRows(notes, deps(addBulk, false));
    expect(outcome).toEqual({ published: notes.map((r) => r.id), unrouted: notes.map((r) => r.id), failed: [] });
  });

  it('builds the job from the row: name, data with the aggregate type, no signature without a signer', async () => {
    const made = row();
    const { jobs, addBulk } = recordingAdd();
    await publishRows([made], deps(addBulk));
    expect(jobs).toEqual([
      {
        queue: 'a',
        job: {
          name: 'x.made',
          opts: { jobId: made.id },
          data: { outboxId: made.id, eventType: 'x.made', aggregateType: 'thing', aggregateId: made.aggregate_id, payload: { n: 1 }, headers: made.headers },
        },
      },
    ]);
  });

  it('signs each job when given a signer, with a signature the consumer side verifies', async () => {
    const signer = createSigner(['test-key']);
    const made = row();
    const split = row({ event_type: 'x.split', payload: { z: 1, a: [2, 3] } });
    const { jobs, addBulk } = recordingAdd();
    await publishRows([made, split], deps(addBulk, true, { signer }));
    expect(jobs).toHaveLength(3);
    for (const { job } of jobs) {
      const received = JSON.parse(JSON.stringify(job.data)) as typeof job.data; // through Redis
      expect(received.signature).toEqual(expect.any(String));
      expect(signer.problem(received, received.signature)).toBeUndefined();
      expect(createSigner(['another-key']).problem(received, received.signature)).toMatch(/edited or forged/);
    }
  });

  it('sets poison rows aside with a reason and publishes the rest', async () => {
    const good = row();
    const unroutable = row({ event_type: 'x.teleported' });
    const oversized = row({ payload_bytes: 5000 });
    const { added, addBulk } = recordingAdd();
    const outcome = await publishRows([unroutable, good, oversized], deps(addBulk));
    expect(outcome.published).toEqual([good.id]);
    expect(outcome.unrouted).toEqual([]);
    expect(outcome.failed).toEqual([
      { id: unroutable.id, error: expect.stringContaining('no route for event type "x.teleported"') },
      { id: oversized.id, error: expect.stringContaining('over RELAY_MAX_PAYLOAD_BYTES') },
    ]);
    expect(added).toEqual([{ queue: 'a', jobId: good.id }]);
  });

  it('finds the one job Redis refuses by retrying the batch job by job', async () => {
    const good = row();
    const bad = row();
    const { added, addBulk } = recordingAdd((_, jobs) => (jobs.some((j) => j.opts.jobId === bad.id) ? new Error('ERR value too large') : undefined));
    const outcome = await publishRows([good, bad], deps(addBulk));
    expect(outcome.published).toEqual([good.id]);
    expect(outcome.failed).toEqual([{ id: bad.id, error: expect.stringContaining('value too large') }]);
    expect(added).toEqual([{ queue: 'a', jobId: good.id }]);
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
