import { describe, expect, it } from 'vitest';
import { candidateIds, checkJob, rowPrunedByRetention, type JobCheck, type JobView } from './jobs.ts';

const EVENT = '0b3c1c52-6f2e-4a3a-9a38-1d6f5d0e0001';
const ORDER = '0b3c1c52-6f2e-4a3a-9a38-1d6f5d0e0002';
const MISSING = '0b3c1c52-6f2e-4a3a-9a38-1d6f5d0e0003';

const check: JobCheck = { queue: 'payments', nowMs: 1_000_000, lockDurationMs: 30_000, events: new Map([[EVENT, 'order.created']]) };
const job = (over: Partial<JobView> = {}): JobView => ({
  id: EVENT,
  state: 'completed',
  data: { outboxId: EVENT, aggregateId: ORDER, eventType: 'order.created' },
  attemptsMade: 1,
  ...over,
});
const kinds = (j: JobView, c: JobCheck = check) => checkJob(j, c).map((f) => `${f.category}:${f.item.kind}`);

describe('checkJob', () => {
  it('finds nothing wrong with a job the relay added that completed first time', () => {
    expect(checkJob(job(), check)).toEqual([]);
  });

  it('calls a job whose outbox row does not exist an orphan, naming the job and the missing row', () => {
    const [finding] = checkJob(job({ id: MISSING, data: { outboxId: MISSING, aggregateId: ORDER } }), check);
    expect(finding).toMatchObject({ category: 'unexpected', item: { kind: 'orphan_job', queue: 'payments', jobId: MISSING, outboxId: MISSING, orderId: ORDER } });
    expect(finding!.item.reason).toContain('does not exist');
  });

  it('calls a job with a generated id and no usable outboxId an orphan', () => {
    expect(kinds(job({ id: '17', data: { aggregateId: ORDER } }))).toEqual(['unexpected:orphan_job']);
    expect(kinds(job({ id: '17', data: undefined }))).toEqual(['unexpected:orphan_job']);
  });

  it('flags a job whose id and data.outboxId disagree, or that sits in a queue its event is not routed to', () => {
    expect(kinds(job({ id: '18' }))).toEqual(['unexpected:job_mismatch']);
    expect(kinds(job(), { ...check, queue: 'invoices' })).toEqual(['unexpected:job_mismatch']);
  });

  it('matches outbox ids case-insensitively', () => {
    expect(kinds(job({ id: EVENT.toUpperCase(), data: { outboxId: EVENT.toUpperCase() } }))).toEqual([]);
    expect(candidateIds(job({ id: EVENT.toUpperCase() }))).toEqual([EVENT, EVENT]);
  });

  it('accepts a relay-made job whose row retention pruned, but only past the retention horizon', () => {
    const old = job({ id: MISSING, data: { outboxId: MISSING }, timestamp: 1000, state: 'failed', attemptsMade: 1 });
    const pruning = { ...check, prunedBeforeMs: 2000 };
    expect(rowPrunedByRetention(old, pruning)).toBe(true);
    expect(kinds(old, pruning)).toEqual(['stuck:job_failed']);
    expect(checkJob(old, pruning)[0]!.item.reason).toContain('a retry cannot work');
    expect(kinds({ ...old, timestamp: 3000 }, pruning)).toEqual(['unexpected:orphan_job', 'stuck:job_failed']);
    expect(kinds(old, check)).toEqual(['unexpected:orphan_job', 'stuck:job_failed']);
    // The relay never makes a job whose id is not its outbox id: retention is no excuse for it.
    expect(kinds({ ...old, id: '42' }, pruning)).toEqual(['unexpected:orphan_job', 'stuck:job_failed']);
  });

  it('reports failed jobs as stuck with attempts and reason', () => {
    const [finding] = checkJob(job({ state: 'failed', attemptsMade: 3, failedReason: 'gateway timed out' }), check);
    expect(finding).toMatchObject({ category: 'stuck', item: { kind: 'job_failed', jobId: EVENT, orderId: ORDER } });
    expect(finding!.item.reason).toContain('3 attempt(s): gateway timed out');
  });

  it('reports a job active for longer than the lock duration as stuck, not one within it', () => {
    expect(kinds(job({ state: 'active', processedOn: check.nowMs - 30_001 }))).toEqual(['stuck:job_active_too_long']);
    expect(kinds(job({ state: 'active', processedOn: check.nowMs - 29_000 }))).toEqual([]);
  });

  it('reports a job completed after a retry as recovered', () => {
    expect(kinds(job({ attemptsMade: 2 }))).toEqual(['recovered:job_retried']);
  });

  it('reports both sides of a forged job that failed', () => {
    expect(kinds(job({ id: MISSING, data: { outboxId: MISSING }, state: 'failed' }))).toEqual(['unexpected:orphan_job', 'stuck:job_failed']);
  });
});
