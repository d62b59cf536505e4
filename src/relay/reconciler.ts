// Closes the hole after "published": if Redis loses a job (restart without persistence, failover
// to an empty replica, FLUSHALL) before a consumer recorded it, the row would be marked published
// forever and its order never finish. The reconciler watches published rows until every consumer
// has them in its inbox, and hands a row back to the relay when Redis no longer has its job.
import type { Logger } from 'pino';
import type { UnconfirmedRow } from '../db/reconcile.ts';
import type { Topology } from '../engine/topology.ts';

export type Verdict = 'confirm' | 'republish' | 'wait';

// BullMQ's getJobState answers 'unknown' when Redis has no such job.
const FINAL_JOB_STATES = new Set(['completed', 'failed']);

// A consumer whose inbox is in another database (another service) never shows in consumers_done:
// its job's final state in Redis confirms the row instead.
export async function judgeRow(row: UnconfirmedRow, topology: Topology, jobState: (queue: string, id: string) => Promise<string>): Promise<Verdict> {
  let waiting = false;
  for (const queue of topology.routeFor(row.event_type) ?? []) {
    if (row.consumers_done.includes(topology.consumerOf(queue))) continue;
    const state = await jobState(queue, row.id);
    if (state === 'unknown') return 'republish';
    if (!FINAL_JOB_STATES.has(state)) waiting = true;
  }
  return waiting ? 'wait' : 'confirm';
}

export interface ReconcilerDeps {
  // Runs `judge` on a locked page of unconfirmed rows published before `afterMs`, starting after
  // `cursor`, applies the verdicts and commits; returns the rows it saw.
  reconcilePage: (cursor: UnconfirmedRow | undefined, judge: (rows: UnconfirmedRow[]) => Promise<Map<string, Verdict>>) => Promise<UnconfirmedRow[]>;
  topology: Topology;
  jobState: (queue: string, id: string) => Promise<string>;
  onRepublished: (count: number) => void;
  log: Logger;
  intervalMs: number;
  pageSize: number;
  maxPagesPerPass?: number;
}

export function createReconciler(deps: ReconcilerDeps) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  const judge = async (rows: UnconfirmedRow[]) => {
    const verdicts = new Map<string, Verdict>();
    await Promise.all(rows.map(async (row) => verdicts.set(row.id, await judgeRow(row, deps.topology, deps.jobState))));
    return verdicts;
  };

  async function pass(): Promise<{ confirmed: number; republished: number }> {
    let cursor: UnconfirmedRow | undefined;
    const totals = { confirmed: 0, republished: 0 };
    for (let page = 0; page < (deps.maxPagesPerPass ?? 20); page++) {
      let verdicts = new Map<string, Verdict>();
      const rows = await deps.reconcilePage(cursor, async (r) => (verdicts = await judge(r)));
      for (const v of verdicts.values()) if (v !== 'wait') totals[v === 'confirm' ? 'confirmed' : 'republished']++;
      if (rows.length < deps.pageSize) break;
      cursor = rows[rows.length - 1];
    }
    if (totals.republished > 0) {
      deps.log.warn({ republished: totals.republished }, 'Redis lost jobs that no consumer had recorded; re-publishing them');
      deps.onRepublished(totals.republished);
    }
    return totals;
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass()
        .then(() => undefined)
        .catch((err: unknown) => deps.log.warn({ err: (err as Error).message }, 'reconcile pass failed; will try again'))
        .finally(schedule);
    }, deps.intervalMs);
  };

  return {
    pass,
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
