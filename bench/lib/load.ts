// The two ways a run offers orders. Open loop: a fixed rate, whatever the system does (latency
// figures). Closed loop with a window: as fast as the system completes orders, never more than
// `window` placed and not yet completed, so the backlog cannot grow (throughput figures).
import { sleep, wallNow } from './clock.ts';
import type { CpuProbe, CpuUse } from './cpu.ts';
import { round, summarize, type Summary } from './stats.ts';
import type { MarkKind, OrderTracker } from './tracker.ts';

// Places one order; resolves with its id and the time it counts as placed.
export type Place = () => Promise<{ id: string; t: number }>;

export interface OpenLoopResult {
  rate: number;
  seconds: number;
  sent: number;
  errors: number;
  achievedRate: number;
  measured: number; // orders placed after the warm-up, the ones the latencies are over
  incomplete: number; // measured orders not completed within the settle time
  inFlightAtEnd: number; // placed and not completed when the sending stopped: a rate the system
  // cannot sustain leaves a backlog that grows with the length of the run
  settleSeconds: number; // how long the last orders took to complete after the sending stopped
  // Sending stops early when more than `maxInFlight` orders are placed and not completed: the rate
  // is not sustainable, and latencies would only grow with the length of the run.
  unsustainable: boolean;
  latency: Partial<Record<MarkKind, Summary | null>>;
  cpu?: CpuUse; // over the measured part of the sending
}

export async function openLoop(o: {
  tracker: OrderTracker;
  place: Place;
  rate: number;
  durationMs: number;
  warmupMs: number;
  settleMs: number;
  kinds: readonly MarkKind[];
  cpu?: CpuProbe;
  maxInFlight?: number;
}): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round((o.rate * (o.durationMs + o.warmupMs)) / 1000));
  const measured: string[] = [];
  const placed: string[] = []; // every order of the run, warm-up included
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = wallNow();
  let cpu: ReturnType<CpuProbe> | undefined;
  let unsustainable = false;
  while (sent < total) {
    if (o.maxInFlight && o.tracker.placedCount + pending.size - o.tracker.completedCount > o.maxInFlight) {
      unsustainable = true;
      break;
    }
    if (!cpu && o.cpu && wallNow() - t0 >= o.warmupMs) cpu = o.cpu();
    const due = Math.min(total, Math.floor(((wallNow() - t0) * o.rate) / 1000) + 1);
    while (sent < due) {
      const inWarmup = wallNow() - t0 < o.warmupMs;
      sent++;
      const p = o.place().then(
        ({ id, t }) => {
          o.tracker.placed(id, t);
          placed.push(id);
          if (!inWarmup) measured.push(id);
        },
        (err: unknown) => {
          errors++;
          firstError ??= String(err);
        },
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    await sleep(1);
  }
  const seconds = (wallNow() - t0) / 1000;
  const cpuUse = await cpu?.stop();
  const inFlightAtEnd = o.tracker.placedCount + pending.size - o.tracker.completedCount;
  await Promise.all(pending);
  const s0 = wallNow();
  // Every order of the run, not only the measured ones: a run stopped during its warm-up (a rate
  // far above what the system sustains) must not leave its backlog to the next run.
  await o.tracker.settle(placed, o.settleMs);
  const incomplete = o.tracker.incomplete(measured);
  const settleSeconds = round((wallNow() - s0) / 1000, 2);
  const latency = Object.fromEntries(o.kinds.map((k) => [k, summarize(o.tracker.latencies(measured, k))]));
  if (firstError) console.warn(`  ${errors} orders failed; first: ${firstError}`);
  return {
    rate: o.rate,
    seconds: round(seconds, 2),
    sent,
    errors,
    achievedRate: round(sent / seconds, 1),
    measured: measured.length,
    incomplete,
    inFlightAtEnd,
    settleSeconds,
    unsustainable,
    latency,
    ...(cpuUse ? { cpu: cpuUse } : {}),
  };
}

export interface ClosedLoopResult {
  ordersPerS: number;
  seconds: number;
  completed: number;
  errors: number;
  window: number;
  concurrency: number;
  inFlightAtStart: number;
  inFlightAtEnd: number;
  backlogAtStart?: Record<string, number>;
  backlogAtEnd?: Record<string, number>;
  incompleteAfter: number;
  cpu?: CpuUse;
}

export async function closedLoop(o: {
  tracker: OrderTracker;
  place: Place;
  window: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  settleMs: number;
  backlog?: () => Promise<Record<string, number>>;
  cpu?: CpuProbe;
}): Promise<ClosedLoopResult> {
  const { tracker } = o;
  let requests = 0;
  let errors = 0;
  let stopped = false;
  const ids: string[] = [];
  const inFlight = () => tracker.placedCount + requests - tracker.completedCount;
  const pump = () => {
    while (!stopped && requests < o.concurrency && inFlight() < o.window) {
      requests++;
      o.place()
        .then(({ id, t }) => {
          ids.push(id);
          tracker.placed(id, t);
        })
        .catch(() => errors++)
        .finally(() => {
          requests--;
          pump();
        });
    }
  };
  tracker.onComplete = pump;
  pump();
  await sleep(o.warmupMs);
  // Then until the backlog stops growing (the window is full, or in flight holds steady), so the
  // window measures a steady state; at most three more warm-ups.
  for (let waited = 0, before = inFlight(); waited < 3 * o.warmupMs; waited += 500) {
    await sleep(500);
    const now = inFlight();
    if (now >= 0.9 * o.window || Math.abs(now - before) < 0.02 * o.window) break;
    before = now;
  }
  const c0 = tracker.completedCount;
  const t0 = wallNow();
  const inFlightAtStart = inFlight();
  const backlogAtStart = await o.backlog?.();
  const cpu = o.cpu?.();
  await sleep(o.durationMs);
  const cpuUse = await cpu?.stop();
  const c1 = tracker.completedCount;
  const t1 = wallNow();
  const inFlightAtEnd = inFlight();
  const backlogAtEnd = await o.backlog?.();
  stopped = true;
  tracker.onComplete = undefined;
  while (requests > 0) await sleep(10);
  const incompleteAfter = await tracker.settle(ids, o.settleMs);
  return {
    ordersPerS: round(((c1 - c0) * 1000) / (t1 - t0), 1),
    seconds: round((t1 - t0) / 1000, 2),
    completed: c1 - c0,
    errors,
    window: o.window,
    concurrency: o.concurrency,
    inFlightAtStart,
    inFlightAtEnd,
    ...(backlogAtStart ? { backlogAtStart, backlogAtEnd: backlogAtEnd! } : {}),
    incompleteAfter,
    ...(cpuUse ? { cpu: cpuUse } : {}),
  };
}
