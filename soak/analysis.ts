// Whether a memory series grew without bound. The criterion, printed with the summary:
//
//   Over the judged window (the second half of the load, and not before a warm-up: for RSS the
//   first 3 min of each process incarnation, while V8's heaps and JIT grow to their working size;
//   for the tables and Redis 2 × retention + 30 s, when retention has reached its steady state)
//   the series' slope
//   is taken robustly (Theil–Sen: the median of the slopes between every pair of samples; for RSS
//   only pairs within one incarnation of a process, so a restart is not read as a drop or a leak).
//   The series is GROWING when slope × window length exceeds the larger of a floor and a fraction
//   of the window's median (RSS: 16 MB or 20 %; rows: 1000 or 20 %; Redis memory: 8 MB or 20 %;
//   Redis keys: 1000 or 20 %). A window shorter than 10 minutes for RSS (2 minutes for the rest),
//   or with fewer than 8 samples, is not judged. A leak shows as steady growth; retention shows as a plateau, faults as bumps.

export interface Point {
  t: number; // seconds
  v: number;
  seg?: number; // e.g. the process incarnation; slopes are taken within one segment only
}

export interface SeriesVerdict {
  name: string;
  unit: string;
  start: number | null;
  max: number | null;
  end: number | null;
  window: [number, number] | null;
  slopePerHour: number | null;
  growth: number | null; // slope × window length
  limit: number | null;
  verdict: 'bounded' | 'GROWING' | 'not judged';
  why?: string;
}

export interface Criterion {
  floor: number;
  fraction: number;
  minWindowS: number;
}

// RSS needs a long window: V8's heaps grow and shrink in a sawtooth minutes long (an 8-minute soak
// saw a worker climb 136 → 190 MB over 70 s, then drop to 109), which a short window reads as a trend.
export const CRITERIA = {
  rss: { floor: 16, fraction: 0.2, minWindowS: 600 },
  rows: { floor: 1000, fraction: 0.2, minWindowS: 120 },
  redisMb: { floor: 8, fraction: 0.2, minWindowS: 120 },
  redisKeys: { floor: 1000, fraction: 0.2, minWindowS: 120 },
} satisfies Record<string, Criterion>;

export const RSS_WARMUP_S = 180;
const MIN_POINTS = 8;

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// Theil–Sen slope (units per second) over pairs within the same segment; null without a pair.
export function theilSen(points: readonly Point[]): number | null {
  const slopes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    for (let j = i + 1; j < points.length; j++) {
      const a = points[i]!;
      const b = points[j]!;
      if (a.seg !== b.seg || b.t === a.t) continue;
      slopes.push((b.v - a.v) / (b.t - a.t));
    }
  }
  return median(slopes);
}

const round = (n: number | null, digits = 1) => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

// `all`: every sample of the series (load and settle), for start/max/end; `judged`: the load's
// samples from `fromT` on, for the slope.
export function judge(name: string, unit: string, all: readonly Point[], judged: readonly Point[], fromT: number, toT: number, c: Criterion): SeriesVerdict {
  const values = all.map((p) => p.v);
  const base: SeriesVerdict = {
    name,
    unit,
    start: values[0] ?? null,
    max: values.length ? Math.max(...values) : null,
    end: values[values.length - 1] ?? null,
    window: null,
    slopePerHour: null,
    growth: null,
    limit: null,
    verdict: 'not judged',
  };
  const window = judged.filter((p) => p.t >= fromT && p.t <= toT);
  const length = toT - fromT;
  if (length < c.minWindowS || window.length < MIN_POINTS) {
    return { ...base, why: `window ${Math.max(0, Math.round(length))} s / ${window.length} samples (needs ${c.minWindowS} s and ${MIN_POINTS}): run longer` };
  }
  const slope = theilSen(window);
  if (slope === null) return { ...base, window: [fromT, toT], why: 'no two samples of one incarnation in the window' };
  const growth = slope * length;
  const limit = Math.max(c.floor, c.fraction * (median(window.map((p) => p.v)) ?? 0));
  return {
    ...base,
    window: [Math.round(fromT), Math.round(toT)],
    slopePerHour: round(slope * 3600),
    growth: round(growth),
    limit: round(limit),
    verdict: growth > limit ? 'GROWING' : 'bounded',
  };
}

export const CRITERION_TEXT = `memory criterion: over the judged window (second half of the load, not before a warm-up: RSS the first ${RSS_WARMUP_S} s of each incarnation, tables and Redis 2 × retention + 30 s), the Theil–Sen slope × window length must stay within max(floor, 20 % of the window's median): RSS 16 MB (pairs within one incarnation), rows 1000, Redis memory 8 MB, Redis keys 1000. Windows under ${CRITERIA.rss.minWindowS} s (RSS) or ${CRITERIA.rows.minWindowS} s (the rest) are not judged.`;
