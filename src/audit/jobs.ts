// The Redis side of the audit: pages through every job of every queue, state by state, and checks
// each page against the outbox with one query. Only one page is in memory at a time.
import type { Job } from 'bullmq';
import { QUEUE_NAMES, ORDER_TOPOLOGY, type QueueName } from '../orders/topology.ts';
import { isUuid, type OutboxJobData } from '../engine/index.ts';
import type { OrderQueues as Queues } from '../orders/queues.ts';
import { formatDuration } from './reasons.ts';
import type { AuditItem, Category } from './report.ts';

// Earlier states first: a job that moves on while the audit runs lands in a state scanned later,
// so it is seen again rather than missed.
export const SCAN_STATES = ['active', 'waiting', 'prioritized', 'delayed', 'waiting-children', 'completed', 'failed'] as const;
export type ScanState = (typeof SCAN_STATES)[number];

export const DEFAULT_PAGE_SIZE = 500;

// What the checks need from a job, so they can be tested without Redis.
export interface JobView {
  id: string;
  state: ScanState;
  data: Partial<OutboxJobData> | undefined;
  attemptsMade: number;
  // When the job was added (ms): retention may have pruned the rows of jobs older than its horizon.
  timestamp?: number | undefined;
  processedOn?: number | undefined;
  failedReason?: string | undefined;
}

export interface JobCheck {
  queue: QueueName;
  nowMs: number;
  lockDurationMs: number;
  // Outbox id (lower case) → event type, for the ids of this page that exist.
  events: ReadonlyMap<string, string>;
  // Outbox rows created before this (ms) may have been pruned by retention; undefined: none are.
  prunedBeforeMs?: number | undefined;
}

export interface Finding {
  category: Category;
  item: AuditItem;
}

// The outbox ids a job could stand for: its id (the relay's dedupe key) and the id its data names.
export function candidateIds(job: JobView): string[] {
  return [job.id, job.data?.outboxId].filter(isUuid).map((id) => id.toLowerCase());
}

// A job the relay made (id = data.outboxId, a UUID) whose row is missing only because retention
// pruned it: the job was added before the horizon, so its row was created before it too.
export function rowPrunedByRetention(job: JobView, check: JobCheck): boolean {
  const id = job.id.toLowerCase();
  return (
    check.prunedBeforeMs !== undefined &&
    job.timestamp !== undefined &&
    job.timestamp < check.prunedBeforeMs &&
    isUuid(job.id) &&
    String(job.data?.outboxId).toLowerCase() === id &&
    !check.events.has(id)
  );
}

export function checkJob(job: JobView, check: JobCheck): Finding[] {
  return [identityFinding(job, check), stateFinding(job, check)].filter((f): f is Finding => f !== undefined);
}

// Unexpected: the relay adds a job only for an existing outbox row, with job id = data.outboxId =
// that row's id, and only to a queue the event is routed to. Anything else was added by hand.
function identityFinding(job: JobView, check: JobCheck): Finding | undefined {
  if (rowPrunedByRetention(job, check)) return undefined;
  const named = job.data?.outboxId;
  const outboxId = isUuid(job.id) ? job.id : named;
  const base = { queue: check.queue, jobId: job.id, ...orderOf(job) };
  const eventType = isUuid(outboxId) ? check.events.get(outboxId.toLowerCase()) : undefined;
  if (!isUuid(outboxId) || eventType === undefined) {
    const what = isUuid(outboxId) ? `outbox event ${outboxId}, which does not exist` : 'no outbox event';
    return {
      category: 'unexpected',
      item: {
        kind: 'orphan_job',
        ...base,
        ...(isUuid(outboxId) ? { outboxId } : {}),
        reason: `${job.state} job names ${what}: the relay did not add it (forged, or its row was deleted); remove the job`,
      },
    };
  }
  const item = { kind: 'job_mismatch' as const, ...base, outboxId };
  if (typeof named !== 'string' || named.toLowerCase() !== job.id.toLowerCase()) {
    return {
      category: 'unexpected',
      item: { ...item, reason: `job id ${job.id} differs from data.outboxId ${String(named)}: the job was added or edited by hand, not by the relay; remove it` },
    };
  }
  if (!ORDER_TOPOLOGY.routeFor(eventType)?.includes(check.queue)) {
    return { category: 'unexpected', item: { ...item, reason: `event ${eventType} is not routed to queue ${check.queue}: the job was added by hand; remove it` } };
  }
  return undefined;
}

// Stuck (failed, or active past the lock) and recovered (completed after a retry).
function stateFinding(job: JobView, check: JobCheck): Finding | undefined {
  const base = { queue: check.queue, jobId: job.id, ...(isUuid(job.data?.outboxId) ? { outboxId: job.data.outboxId } : {}), ...orderOf(job) };
  if (job.state === 'failed') {
    const next = rowPrunedByRetention(job, check)
      ? 'its outbox row is past OUTBOX_RETENTION_S and pruned, so a retry cannot work: remove the job'
      : 'unless that is final (a declined card), fix the cause and retry it in Bull Board (/admin/queues): the inbox makes a retry safe';
    return {
      category: 'stuck',
      item: { kind: 'job_failed', ...base, reason: `failed after ${job.attemptsMade} attempt(s): ${job.failedReason || 'no reason recorded'}; ${next}` },
    };
  }
  if (job.state === 'active' && job.processedOn !== undefined && check.nowMs - job.processedOn > check.lockDurationMs) {
    const since = formatDuration(check.nowMs - job.processedOn);
    return {
      category: 'stuck',
      item: {
        kind: 'job_active_too_long',
        ...base,
        reason: `active for ${since}, longer than the lock duration (${formatDuration(check.lockDurationMs)}): its worker probably died; a running worker of queue ${check.queue} moves it back to wait when it detects the stall`,
      },
    };
  }
  if (job.state === 'completed' && job.attemptsMade > 1) {
    return { category: 'recovered', item: { kind: 'job_retried', ...base, reason: `completed after ${job.attemptsMade} attempts` } };
  }
  return undefined;
}

const orderOf = (job: JobView) => (isUuid(job.data?.aggregateId) ? { orderId: job.data.aggregateId } : {});

export interface ScanDeps {
  queues: Queues;
  // Looks up which of the ids exist in the outbox (one statement per page).
  findEventTypes: (ids: readonly string[]) => Promise<Map<string, string>>;
  onFinding: (finding: Finding) => void;
  nowMs: number;
  lockDurationMs: number;
  prunedBeforeMs?: number | undefined;
  pageSize?: number | undefined;
}

export interface ScanTotals {
  scanned: number;
  // Jobs older than the outbox retention whose row is gone: expected, so not findings.
  pastRetention: number;
}

// Scans every job of every queue.
export async function scanJobs(deps: ScanDeps): Promise<ScanTotals> {
  const totals: ScanTotals = { scanned: 0, pastRetention: 0 };
  for (const queue of QUEUE_NAMES) {
    for (const state of SCAN_STATES) await scanState(deps, queue, state, totals);
  }
  return totals;
}

async function scanState(deps: ScanDeps, queue: QueueName, state: ScanState, totals: ScanTotals): Promise<void> {
  const size = deps.pageSize ?? DEFAULT_PAGE_SIZE;
  const q = deps.queues[queue];
  for (let start = 0; ; start += size) {
    const ids = await q.getRanges([state], start, start + size - 1);
    // A job that left Redis between the two reads is simply skipped.
    const jobs = (await Promise.all(ids.map((id) => q.getJob(id)))).filter((j): j is Job<OutboxJobData> => j !== undefined);
    const views = jobs.map((j) => toView(j, state));
    const events = await deps.findEventTypes([...new Set(views.flatMap(candidateIds))]);
    const check: JobCheck = { queue, nowMs: deps.nowMs, lockDurationMs: deps.lockDurationMs, events, prunedBeforeMs: deps.prunedBeforeMs };
    for (const view of views) {
      if (rowPrunedByRetention(view, check)) totals.pastRetention += 1;
      for (const finding of checkJob(view, check)) deps.onFinding(finding);
    }
    totals.scanned += views.length;
    if (ids.length < size) return;
  }
}

function toView(job: Job<OutboxJobData>, state: ScanState): JobView {
  return {
    id: String(job.id),
    state,
    data: job.data as Partial<OutboxJobData> | undefined,
    attemptsMade: job.attemptsMade ?? 0,
    timestamp: job.timestamp,
    processedOn: job.processedOn,
    failedReason: job.failedReason,
  };
}
