// What a run prints and writes: the figures as markdown tables (readable in a terminal, pasted
// into BENCHMARKS.md), and the JSON with the raw figures and the flat `ratios` object. A missed
// target is shown, never turned into a failure: the exit code only says whether the run completed.
import type { Summary } from './stats.ts';
import { round } from './stats.ts';

type Op = '>=' | '<=';
export const TARGETS: Record<string, { op: Op; target: number; what: string }> = {
  api_over_tx: { op: '>=', target: 0.7, what: 'API orders/s ÷ B_tx' },
  relay_over_add: { op: '>=', target: 0.8, what: 'relay drain rows/s ÷ B_add' },
  e2e_p50_minus_lat_ms: { op: '<=', target: 3, what: 'e2e (201 → payment start) p50 − B_lat p50, ms' },
  e2e_p99_minus_lat_ms: { op: '<=', target: 10, what: 'e2e (201 → payment start) p99 − B_lat p99, ms' },
  sustained_over_commit_budget: { op: '>=', target: 0.6, what: 'sustained delivered orders/s ÷ (B_tx ÷ 4)' },
  wakeup_on_over_off: { op: '>=', target: 0.95, what: 'API orders/s, relay wake-up on ÷ off' },
  sustained_over_graphile: { op: '>=', target: 3, what: 'sustained delivered orders/s ÷ graphile-worker peer' },
  delivered_p99_over_graphile: { op: '<=', target: 0.5, what: 'order → delivered p99 at P ÷ graphile-worker peer' },
  cpu_per_order_over_graphile: { op: '<=', target: 0.5, what: 'machine busy cores ÷ orders/s at P, ours ÷ graphile-worker peer' },
};

export type Ratios = Record<keyof typeof TARGETS, number | null>;

const div = (a: number | undefined | null, b: number | undefined | null) => (a == null || b == null || !b ? null : round(a / b, 3));
const sub = (a: number | undefined | null, b: number | undefined | null) => (a == null || b == null ? null : round(a - b, 3));

// The inputs of each ratio, as the run measured them.
export interface RatioInputs {
  txPerS?: number;
  addJobsPerS?: number;
  apiOrdersPerS?: number;
  drainRowsPerS?: number;
  e2ePay?: Summary | null;
  latPay?: Summary | null;
  sustained?: number;
  peerSustained?: number;
  wakeupOn?: number;
  wakeupOff?: number;
  deliveredP99?: number;
  peerDeliveredP99?: number;
  cpuPerOrderMs?: number | null; // machine busy core-ms per order at P
  peerCpuPerOrderMs?: number | null;
}

export function computeRatios(i: RatioInputs): Ratios {
  return {
    api_over_tx: div(i.apiOrdersPerS, i.txPerS),
    relay_over_add: div(i.drainRowsPerS, i.addJobsPerS),
    e2e_p50_minus_lat_ms: sub(i.e2ePay?.p50, i.latPay?.p50),
    e2e_p99_minus_lat_ms: sub(i.e2ePay?.p99, i.latPay?.p99),
    sustained_over_commit_budget: div(i.sustained, i.txPerS === undefined ? undefined : i.txPerS / 4),
    wakeup_on_over_off: div(i.wakeupOn, i.wakeupOff),
    sustained_over_graphile: div(i.sustained, i.peerSustained),
    delivered_p99_over_graphile: div(i.deliveredP99, i.peerDeliveredP99),
    cpu_per_order_over_graphile: div(i.cpuPerOrderMs, i.peerCpuPerOrderMs),
  };
}

export function verdicts(ratios: Ratios) {
  return Object.fromEntries(
    Object.entries(TARGETS).map(([key, t]) => {
      const value = ratios[key];
      const met = value == null ? null : t.op === '>=' ? value >= t.target : value <= t.target;
      return [key, { value, target: `${t.op} ${t.target}`, met }];
    }),
  );
}

export function table(head: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c == null ? '—' : String(c))));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export const lat = (s: Summary | null | undefined) => (s ? `${fmt(s.p50)} / ${fmt(s.p99)} ms` : null);
export const fmt = (v: number | null | undefined, digits = 2) => (v == null ? null : Number.isInteger(v) ? String(v) : v.toFixed(digits));

// Not a ratio, but a target of the issue too: the relay's RSS after the large backlog (the backlog
// phase), less its RSS before it (after a warm-up drain and the API baseline), both after a forced
// GC, in MB.
export const MEMORY_GROWTH_TARGET_MB = 5;

export function targetsTable(ratios: Ratios, memoryGrowthMb: number | null | undefined): string {
  const v = verdicts(ratios);
  const yes = (met: boolean | null) => (met == null ? 'not measured' : met ? 'yes' : 'NO');
  return table(
    ['ratio', 'what', 'value', 'target', 'met'],
    [
      ...Object.entries(TARGETS).map(([key, t]) => [key, t.what, fmt(ratios[key], 3), v[key]!.target, yes(v[key]!.met)]),
      [
        '(memory)',
        'relay RSS growth over the large backlog (after GC), MB',
        fmt(memoryGrowthMb, 1),
        `<= ${MEMORY_GROWTH_TARGET_MB}`,
        yes(memoryGrowthMb == null ? null : memoryGrowthMb <= MEMORY_GROWTH_TARGET_MB),
      ],
    ],
  );
}
