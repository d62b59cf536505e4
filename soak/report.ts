// The end of a run: the summary (orders, faults by kind, the audit, RSS per role, the tables and
// Redis against retention), the pass/fail criteria, and the text printed for them.
import { CRITERIA, CRITERION_TEXT, judge, RSS_WARMUP_S, type Point, type SeriesVerdict } from './analysis.ts';
import type { DriverCounts } from './driver.ts';
import { FAULT_KINDS, type FaultRecord } from './faults.ts';
import type { AuditOutcome, SettleOutcome } from './finish.ts';
import type { SoakOptions } from './options.ts';
import type { Roles, Shutdown, UnexpectedExit } from './roles.ts';
import type { Sample } from './sampler.ts';

export interface CriterionResult {
  name: string;
  pass: boolean | null; // null: not judged
  detail: string;
}

export interface Summary {
  loadSec: number;
  orders: DriverCounts;
  faults: { total: number; verified: number; byKind: Record<string, { injected: number; verified: number }> };
  unexpectedExits: Record<string, UnexpectedExit[]>;
  settle: SettleOutcome;
  audit: AuditOutcome;
  // How each role ended on SIGTERM after the audit (reported, not a criterion).
  shutdown: Record<string, Shutdown>;
  rss: SeriesVerdict[];
  retention: SeriesVerdict[];
  criteria: CriterionResult[];
  pass: boolean;
}

export interface SummaryInput {
  opts: SoakOptions;
  loadSec: number;
  warmupSec: number;
  samples: Sample[];
  faults: FaultRecord[];
  roles: Roles;
  orders: DriverCounts;
  settle: SettleOutcome;
  audit: AuditOutcome;
  shutdown: Record<string, Shutdown>;
}

function rssVerdicts(i: SummaryInput): SeriesVerdict[] {
  return i.roles.all.map((r) => {
    const pts: Point[] = i.samples.flatMap((s) => {
      const v = s.rssMb[r.name];
      return v === null || v === undefined ? [] : [{ t: s.t, v, seg: s.incarnation[r.name] }];
    });
    // Each incarnation's own warm-up is left out (its first sample stands for its start).
    const firstT = new Map<number | undefined, number>();
    for (const p of pts) if (!firstT.has(p.seg)) firstT.set(p.seg, p.t);
    const judged = pts.filter((p) => p.t <= i.loadSec && p.t >= firstT.get(p.seg)! + RSS_WARMUP_S);
    return judge(`rss ${r.name}`, 'MB', pts, judged, i.loadSec / 2, i.loadSec, CRITERIA.rss);
  });
}

function retentionVerdicts(i: SummaryInput): SeriesVerdict[] {
  const from = Math.max(i.loadSec / 2, i.warmupSec);
  const series = (name: string, unit: string, pick: (s: Sample) => number | undefined, c: (typeof CRITERIA)[keyof typeof CRITERIA] | null) => {
    const pts: Point[] = i.samples.flatMap((s) => {
      const v = pick(s);
      return v === undefined ? [] : [{ t: s.t, v }];
    });
    const load = pts.filter((p) => p.t <= i.loadSec);
    const v = judge(name, unit, pts, load, from, i.loadSec, c ?? { ...CRITERIA.rows, floor: Infinity });
    return c ? v : { ...v, limit: null, verdict: 'not judged' as const, why: 'reported only' };
  };
  return [
    series('jobs to run (backlog)', 'jobs', (s) => s.redis?.pendingJobs, CRITERIA.rows),
    series('events to publish', 'rows', (s) => s.db?.unpublished, CRITERIA.rows),
    series('outbox rows', 'rows', (s) => s.db?.outbox, CRITERIA.rows),
    series('outbox table+indexes', 'MB', (s) => s.db?.outboxMb, null),
    series('inbox rows', 'rows', (s) => s.db?.inbox, CRITERIA.rows),
    series('idempotency keys', 'rows', (s) => s.db?.idempotencyKeys, null),
    series('redis used_memory', 'MB', (s) => s.redis?.usedMemoryMb, CRITERIA.redisMb),
    series('redis keys under prefix', 'keys', (s) => s.redis?.keys, CRITERIA.redisKeys),
  ];
}

const BACKLOG = ['jobs to run (backlog)', 'events to publish'];

function faultSummary(faults: FaultRecord[]): Summary['faults'] {
  const byKind: Summary['faults']['byKind'] = Object.fromEntries(FAULT_KINDS.map((k) => [k, { injected: 0, verified: 0 }]));
  for (const f of faults) {
    byKind[f.kind]!.injected++;
    if (f.happened) byKind[f.kind]!.verified++;
  }
  return { total: faults.length, verified: faults.filter((f) => f.happened).length, byKind };
}

function criteria(i: SummaryInput, s: Omit<Summary, 'criteria' | 'pass'>): CriterionResult[] {
  const a = i.audit;
  const violations = a.counts ? a.counts.lost + a.counts.duplicated + a.counts.unexpected : null;
  const scheduled = i.opts.faultEverySec > 0 ? Math.floor((i.loadSec - 15) / i.opts.faultEverySec) : 0;
  const missing = Object.entries(s.faults.byKind).filter(([, v]) => v.verified === 0);
  const exits = Object.entries(s.unexpectedExits).filter(([, v]) => v.length > 0);
  const judged = (vs: SeriesVerdict[]) => vs.filter((v) => v.verdict !== 'not judged');
  const growing = (vs: SeriesVerdict[]) => vs.filter((v) => v.verdict === 'GROWING');
  const memory = (label: string, vs: SeriesVerdict[]): CriterionResult => ({
    name: label,
    pass: judged(vs).length === 0 ? null : growing(vs).length === 0,
    detail:
      judged(vs).length === 0
        ? 'not judged (run too short)'
        : growing(vs).length
          ? `growing: ${growing(vs)
              .map((v) => v.name)
              .join(', ')}`
          : `${judged(vs).length} series bounded`,
  });
  return [
    {
      name: 'audit clean (0 lost, 0 duplicated, 0 unexpected)',
      pass: a.exitCode === 0 && violations === 0,
      detail: a.verdict ?? `audit did not run: ${a.error ?? 'unknown'}`,
    },
    {
      name: 'backlog settled after the load',
      pass: i.settle.settled,
      detail: `${(i.settle.ms / 1000).toFixed(0)} s${i.settle.settled ? '' : ` (timed out after ${i.opts.settleTimeoutSec} s)`}`,
    },
    { name: 'every order eventually accepted (0 gave up)', pass: i.orders.gaveUp === 0, detail: `${i.orders.gaveUp} gave up after the retry bound` },
    {
      name: 'every injected fault verified',
      pass: s.faults.total === 0 ? null : s.faults.verified === s.faults.total,
      detail: `${s.faults.verified}/${s.faults.total}`,
    },
    {
      name: 'every fault kind injected at least once',
      pass: scheduled < FAULT_KINDS.length ? null : missing.length === 0,
      detail: scheduled < FAULT_KINDS.length ? `only ${scheduled} fault(s) fit the schedule` : missing.length ? `missing: ${missing.map(([k]) => k).join(', ')}` : 'all kinds',
    },
    {
      name: 'no role exited by itself',
      pass: exits.length === 0,
      detail: exits.length ? exits.map(([r, v]) => `${r} ×${v.length}`).join(', ') : 'none',
    },
    memory('RSS of every role bounded', s.rss),
    memory(
      'the pipeline kept up (backlog bounded)',
      s.retention.filter((v) => BACKLOG.includes(v.name)),
    ),
    memory(
      'outbox, inbox and Redis bounded by retention',
      s.retention.filter((v) => !BACKLOG.includes(v.name)),
    ),
  ];
}

export function summarize(i: SummaryInput): Summary {
  const unexpectedExits = Object.fromEntries(i.roles.all.map((r) => [r.name, r.unexpectedExits]));
  const partial = {
    loadSec: i.loadSec,
    orders: i.orders,
    faults: faultSummary(i.faults),
    unexpectedExits,
    settle: i.settle,
    audit: i.audit,
    shutdown: i.shutdown,
    rss: rssVerdicts(i),
    retention: retentionVerdicts(i),
  };
  const results = criteria(i, partial);
  return { ...partial, criteria: results, pass: results.every((c) => c.pass !== false) };
}

function shutdownLine(stops: Record<string, Shutdown>): string {
  const bad = Object.entries(stops).filter(([, x]) => !x.graceful);
  if (bad.length === 0) return `all ${Object.keys(stops).length} roles exited 0 within the grace period`;
  return `not cleanly: ${bad.map(([n, x]) => `${n} (${x.signal ?? `exit ${x.code}`})`).join(', ')} — see its log`;
}

function table(head: string[], rows: (string | number | null)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = head.map((_, j) => Math.max(...cells.map((r) => r[j]!.length)));
  return cells.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ')).join('\n');
}

const verdictRows = (vs: SeriesVerdict[]) =>
  vs.map((v) => [v.name, v.unit, v.start, v.max, v.end, v.window ? `${v.window[0]}–${v.window[1]} s` : null, v.slopePerHour, v.growth, v.limit, v.verdict]);

export function formatSummary(i: SummaryInput, s: Summary): string {
  const o = s.orders;
  const head = ['', 'unit', 'start', 'max', 'end', 'judged window', 'slope /h', 'growth', 'limit', 'verdict'];
  const lines = [
    `## Soak summary: ${(s.loadSec / 60).toFixed(1)} min at ${i.opts.rate} orders/s, ${i.opts.faultEverySec > 0 ? `a fault every ${i.opts.faultEverySec} s` : 'no faults'}; completed jobs kept ${i.opts.retentionSec} s, outbox and inbox rows ${2 * i.opts.retentionSec} s`,
    '',
    `orders: ${o.accepted} accepted (201) of ${o.sent} sent; ${o.gaveUp} gave up, ${o.skipped} not sent (client backlog); attempts by status ${JSON.stringify(o.attempts)}${Object.keys(o.errors).length ? `, network errors ${JSON.stringify(o.errors)}` : ''}`,
    `faults: ${s.faults.total} injected, ${s.faults.verified} verified — ${Object.entries(s.faults.byKind)
      .map(([k, v]) => `${k} ${v.verified}/${v.injected}`)
      .join(', ')}`,
    `settle: ${s.settle.settled ? 'settled' : 'NOT settled'} ${(s.settle.ms / 1000).toFixed(0)} s after the load stopped`,
    `shutdown (SIGTERM, after the audit): ${shutdownLine(s.shutdown)}`,
    `audit: ${s.audit.verdict ?? s.audit.error}${s.audit.totals ? ` (${s.audit.totals.orders} orders, ${s.audit.totals.outboxRows} outbox rows, ${s.audit.totals.jobsScanned} jobs scanned)` : ''}`,
    '',
    table(head, verdictRows(s.rss)),
    '',
    table(head, verdictRows(s.retention)),
    '',
    CRITERION_TEXT,
    '',
    ...s.criteria.map((c) => `${c.pass === null ? 'n/a ' : c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
    '',
    `SOAK ${s.pass ? 'PASSED' : 'FAILED'}`,
  ];
  return lines.join('\n');
}
