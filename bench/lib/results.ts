// The raw figures of a run, phase by phase, and the figures table built from them.
import type { benchAdd } from '../baselines/add.ts';
import type { benchLat } from '../baselines/lat.ts';
import type { benchTx } from '../baselines/tx.ts';
import type { benchWork } from '../baselines/work.ts';
import type { benchGraphile } from '../peers/graphile/peer.ts';
import type { benchApi } from '../project/api.ts';
import type { benchBacklog } from '../project/backlog.ts';
import type { benchDrain } from '../project/drain.ts';
import type { PipelineResult } from '../project/pipeline.ts';
import type { benchScaling } from '../project/scaling.ts';
import { fmt, lat, table, type RatioInputs } from './report.ts';

export interface Results {
  rateR?: number; // the e2e target rate: half of the API's maximum
  rateP?: number; // the common rate for ours, the row-by-row poller and the peer
  tx?: Awaited<ReturnType<typeof benchTx>>;
  add?: Awaited<ReturnType<typeof benchAdd>>;
  work?: Awaited<ReturnType<typeof benchWork>>;
  lat?: Awaited<ReturnType<typeof benchLat>>; // at R
  latP?: Awaited<ReturnType<typeof benchLat>>; // at P
  api?: Awaited<ReturnType<typeof benchApi>>;
  peer?: Awaited<ReturnType<typeof benchGraphile>>;
  pipeline?: PipelineResult;
  seeds?: PipelineResult; // the row-by-row poller (project/seed-relay.ts)
  drain?: Awaited<ReturnType<typeof benchDrain>>;
  scaling?: Awaited<ReturnType<typeof benchScaling>>;
  backlog?: Backlog;
  peakRssMbByRole?: Record<string, number>;
  cpuSpeedByPhase?: Record<string, number>; // lib/machine.ts cpuSpeedIndex() before each phase
  errors?: string[];
}

export type Backlog = Awaited<ReturnType<typeof benchBacklog>>;

// Machine busy core-milliseconds per order over an open-loop window (the issue's "CPU per order").
export function cpuPerOrderMs(o: { achievedRate: number; measured: number; errors: number; cpu?: Record<string, number> } | undefined): number | null {
  const busy = o?.cpu?.['machine busy'];
  return busy == null || !o?.achievedRate || !o.measured || o.errors > 0 ? null : Math.round((busy / o.achievedRate) * 1000 * 100) / 100;
}

export function ratioInputs(r: Results): RatioInputs {
  // B_tx: the best the run saw, from the sweep or from the rounds interleaved with the API's.
  const tx = Math.max(r.tx?.txPerS ?? 0, r.api?.txInterleaved.txPerS ?? 0) || undefined;
  return {
    txPerS: tx,
    addJobsPerS: r.add?.jobsPerS,
    apiOrdersPerS: r.api?.alone.ordersPerS,
    drainRowsPerS: r.drain?.ours.rowsPerS,
    e2ePay: r.pipeline?.e2e.R?.latency.pay,
    latPay: r.lat?.latency.pay,
    sustained: r.pipeline?.sustained?.ordersPerS,
    peerSustained: r.peer?.sustained.ordersPerS,
    wakeupOn: r.api?.wakeupOn.medianOrdersPerS,
    wakeupOff: r.api?.wakeupOff.medianOrdersPerS,
    deliveredP99: r.pipeline?.e2e.P?.latency.delivered?.p99,
    peerDeliveredP99: r.peer?.e2e.latency.delivered?.p99,
    cpuPerOrderMs: cpuPerOrderMs(r.pipeline?.e2e.P),
    peerCpuPerOrderMs: cpuPerOrderMs(r.peer?.e2e),
  };
}

const rate = (v: number | undefined, unit: string) => (v == null ? null : `${fmt(v, 0)} ${unit}`);

export function figuresTable(r: Results): string {
  const e2e = (x: PipelineResult | undefined, k: 'R' | 'P') => x?.e2e[k];
  const openNote = (
    o:
      | { achievedRate: number; errors: number; incomplete: number; measured: number; inFlightAtEnd: number; settleSeconds: number; unsustainable: boolean; seconds: number }
      | undefined,
  ) =>
    o
      ? `${o.unsustainable ? `NOT SUSTAINABLE: over ${fmt(o.inFlightAtEnd, 0)} orders in flight after ${o.seconds} s, sending stopped; ` : ''}` +
        `${fmt(o.achievedRate, 0)}/s offered; ${o.measured} measured; ${o.inFlightAtEnd} in flight when sending stopped, settled in ${o.settleSeconds} s` +
        `${o.incomplete ? `, ${o.incomplete} never completed` : ''}${o.errors ? `, ${o.errors} errors` : ''}`
      : null;
  const rows: Array<Array<string | number | null | undefined>> = [
    [
      'B_tx',
      'order + outbox tx, postgres.js, best of the sweep',
      rate(r.tx?.txPerS, 'tx/s'),
      r.tx &&
        `best at ${r.tx.inFlight} in flight over ${r.tx.pool} connections; tx p50/p99 ${lat(r.tx.latencyMs)}; sweep ${r.tx.sweep.map((s) => `${s.inFlight}/${s.pool}: ${fmt(s.txPerS, 0)}`).join(', ')}`,
    ],
    [
      'B_tx',
      "at the API's load, interleaved with its rounds",
      rate(r.api?.txInterleaved.txPerS, 'tx/s'),
      r.api && `${r.api.connections} in flight over ${r.api.pgPoolMax} connections; runs ${r.api.txInterleaved.runs.join(', ')}`,
    ],
    ['B_add', 'BullMQ addBulk', rate(r.add?.jobsPerS, 'jobs/s'), r.add && `batch ${r.add.batchSize} × ${r.add.concurrency} in flight; batch p50/p99 ${lat(r.add.batchLatencyMs)}`],
    ['B_work', 'no-op Worker drain', rate(r.work?.jobsPerS, 'jobs/s'), r.work && `${r.work.jobs} jobs, concurrency ${r.work.concurrency}`],
    ['B_lat at R', 'add → processing start', lat(r.lat?.latency.pay), r.lat && `at ${r.lat.rate}/s; ${openNote(r.lat)}`],
    ['B_lat at P', 'add → processing start', lat(r.latP?.latency.pay), r.latP && `at ${r.latP.rate}/s; ${openNote(r.latP)}`],
    [
      'API',
      'POST /orders (api alone)',
      rate(r.api?.alone.ordersPerS, 'orders/s'),
      r.api &&
        `runs ${r.api.alone.runs.join(', ')}; autocannon ${r.api.connections} connections; p50/p99 ${r.api.alone.latencyMs.p50} / ${r.api.alone.latencyMs.p99} ms (1 ms resolution)`,
    ],
    [
      'API',
      'wake-up on (api + relay)',
      rate(r.api?.wakeupOn.medianOrdersPerS, 'orders/s'),
      r.api && `runs ${r.api.wakeupOn.runs.join(', ')}; p99 ${r.api.wakeupOn.latencyMs.p99} ms`,
    ],
    [
      'API',
      'wake-up off (api + relay deaf to NOTIFY)',
      rate(r.api?.wakeupOff.medianOrdersPerS, 'orders/s'),
      r.api && `runs ${r.api.wakeupOff.runs.join(', ')}; p99 ${r.api.wakeupOff.latencyMs.p99} ms`,
    ],
    ['Relay drain', 'ours', rate(r.drain?.ours.rowsPerS, 'rows/s'), r.drain && `${r.drain.ours.rows} rows in ${r.drain.ours.seconds} s`],
    [
      'Relay drain',
      'ours, outbox analyzed first',
      rate(r.drain?.oursAnalyzed.rowsPerS, 'rows/s'),
      r.drain && `${r.drain.oursAnalyzed.rows} rows in ${r.drain.oursAnalyzed.seconds} s; what autovacuum's ANALYZE would give`,
    ],
    [
      'Relay drain',
      "row-by-row poller (the Kafka seed's relay)",
      rate(r.drain?.seeds.rowsPerSOnceStarted, 'rows/s'),
      r.drain && `${r.drain.seeds.published}/${r.drain.seeds.rows} rows in ${r.drain.seeds.seconds} s (cap), first row after ${r.drain.seeds.startLagS} s`,
    ],
    ['E2E at R', '201 → payment start', lat(e2e(r.pipeline, 'R')?.latency.pay), openNote(e2e(r.pipeline, 'R'))],
    ['E2E at R', '201 → delivered', lat(e2e(r.pipeline, 'R')?.latency.delivered), r.rateR && `R = ${r.rateR}/s (half the API's maximum)`],
    ['E2E at P', 'ours: 201 → payment start', lat(e2e(r.pipeline, 'P')?.latency.pay), openNote(e2e(r.pipeline, 'P'))],
    ['E2E at P', 'ours: 201 → delivered', lat(e2e(r.pipeline, 'P')?.latency.delivered), r.rateP && `P = ${r.rateP}/s (common rate: min(R, half the peer's sustained))`],
    ['E2E at P', 'row-by-row poller: 201 → payment start', lat(e2e(r.seeds, 'P')?.latency.pay), openNote(e2e(r.seeds, 'P'))],
    ['E2E at P', 'row-by-row poller: 201 → delivered', lat(e2e(r.seeds, 'P')?.latency.delivered), null],
    ['E2E at P', 'graphile-worker: commit → pay start', lat(r.peer?.e2e.latency.pay), openNote(r.peer?.e2e)],
    ['E2E at P', 'graphile-worker: commit → delivered', lat(r.peer?.e2e.latency.delivered), null],
    ['Work per order at P', 'ours: commits / row writes / statements / Redis commands', workLine(r.pipeline?.work?.P), 'load-independent: compare these across an A/B pair'],
    ['Sustained', 'ours: delivered + invoiced', rate(r.pipeline?.sustained?.ordersPerS, 'orders/s'), backlogNote(r.pipeline?.sustained)],
    ['Sustained', 'graphile-worker: delivered', rate(r.peer?.sustained.ordersPerS, 'orders/s'), backlogNote(r.peer?.sustained)],
    [
      'Relay claim',
      'plan on the fresh backlog (drain)',
      r.drain?.ours.claimPlanBefore && `${fmt(r.drain.ours.claimPlanBefore.executionMs)} ms`,
      r.drain?.ours.claimPlanBefore &&
        `${r.drain.ours.claimPlanBefore.plan}; ${r.drain.ours.claimPlanBefore.buffers} buffers; analyzed: ${r.drain.oursAnalyzed.claimPlanBefore?.plan} ${fmt(r.drain.oursAnalyzed.claimPlanBefore?.executionMs)} ms`,
    ],
    [
      'Relay claim',
      'plan at the end of the pipeline runs',
      r.pipeline?.claimPlanAtEnd && `${fmt(r.pipeline.claimPlanAtEnd.executionMs)} ms`,
      r.pipeline?.claimPlanAtEnd && `${r.pipeline.claimPlanAtEnd.plan}; ${r.pipeline.claimPlanAtEnd.buffers} buffers for ${r.pipeline.claimPlanAtEnd.outboxRows} outbox rows`,
    ],
    [
      'Memory',
      `relay RSS after GC: idle → after the drains of ${r.drain?.memory.firstRows ?? '?'} rows`,
      r.drain && `${fmt(r.drain.memory.relayIdle?.rssMb, 1)} → ${fmt(r.drain.memory.relayRssAfterFirstMb, 1)} MB`,
      r.drain && `heap ${fmt(r.drain.memory.relayIdle?.heapUsedMb, 1)} → ${fmt(r.drain.memory.relayAfterFirst?.heapUsedMb, 1)} MB; the large backlog: see Backlog`,
    ],
    ...scalingRows(r),
    ...backlogRows(r.backlog),
    [
      'Memory',
      'peak RSS by process',
      r.peakRssMbByRole &&
        Object.entries(r.peakRssMbByRole)
          .map(([k, v]) => `${k} ${fmt(v, 0)} MB`)
          .join(', '),
      'VmHWM of each process, highest per role',
    ],
  ];
  return table(['figure', 'what', 'value (median / p99 for latencies)', 'detail'], rows);
}

function scalingRows(r: Results): Array<Array<string | number | null | undefined>> {
  const s = r.scaling;
  if (!s) return [];
  return s.byCount.map((c) => [
    'Relay scaling',
    `${c.relays} relay process${c.relays > 1 ? 'es' : ''}`,
    rate(c.rowsPerS ?? undefined, 'rows/s'),
    `${s.rows} rows, batch ${s.batchSize} × ${s.concurrencyPerRelay} loops each; runs ${c.runs.join(', ')}; ×${fmt(c.overOne)} of one relay` +
      (c.cpu ? `; relays ${fmt(c.cpu.relay)}, Postgres ${fmt(c.cpu['postgres (our backends)'])}, Redis ${fmt(c.cpu.redis)}, machine ${fmt(c.cpu['machine busy'])} cores` : '') +
      (c.postgres ? `; WAL ${fmt(c.postgres.walMbPerS, 1)} MB/s` : ''),
  ]);
}

function backlogRows(b: Backlog | undefined): Array<Array<string | number | null | undefined>> {
  if (!b) return [];
  const api = (x: { p50?: number; p99?: number; max?: number; sent: number; errors: number } | undefined) => (x?.p50 === undefined ? null : `${fmt(x.p50)} / ${fmt(x.p99)} ms`);
  const m = b.memory;
  return [
    [
      'Backlog',
      `drain of ${b.rows} rows, API at ${b.apiRate}/s`,
      rate(b.drain.rowsPerS, 'rows/s'),
      `${b.drain.seconds} s${b.drain.capped ? ' (CAPPED: not drained)' : ''}; by tenth of the time min ${b.drain.tenthRowsPerS.min} / median ${b.drain.tenthRowsPerS.median} / max ${b.drain.tenthRowsPerS.max} rows/s; ` +
        `relay VACUUM (ANALYZE) ${b.drain.firstRelayVacuumAtS == null ? 'not during the drain' : `from ${b.drain.firstRelayVacuumAtS} s`}, ours seen running ${b.drain.vacuumSeconds} s; ` +
        `WAL ${fmt(b.drain.postgres.walMbPerS, 1)} MB/s, ${b.drain.postgres.checkpoints} checkpoint(s); fill ${b.fillSeconds} s`,
    ],
    [
      'Backlog',
      'relay RSS during the drain (min / max / last)',
      m.rss && `${fmt(m.rss.min, 1)} / ${fmt(m.rss.max, 1)} / ${fmt(m.rss.last, 1)} MB`,
      `sampled every second (${m.rss?.n ?? 0} samples); ${m.heap ? `heap ${fmt(m.heap.min, 1)} / ${fmt(m.heap.max, 1)} / ${fmt(m.heap.last, 1)} MB; ` : ''}after GC ${fmt(m.relayBefore?.rssMb, 1)} → ${fmt(m.relayAfter?.rssMb, 1)} MB (growth ${fmt(m.growthMb, 1)} MB; heap ${fmt(m.relayBefore?.heapUsedMb, 1)} → ${fmt(m.relayAfter?.heapUsedMb, 1)}); ${m.redisUsed ? `Redis used ${fmt(m.redisUsed.min, 0)}–${fmt(m.redisUsed.max, 0)} MB, ` : ''}${m.jobsTrimmed} jobs trimmed off the queue`,
    ],
    [
      'Backlog',
      `API p50 / p99, ${b.apiRate}/s, no backlog`,
      api(b.api.baseline),
      `${b.api.baseline.sent} orders over ${b.api.baseline.seconds} s, ${b.api.baseline.errors} errors; max ${fmt(b.api.baseline.max)} ms; api + relay, client-side timing; WAL ${fmt(b.api.baseline.postgres.walMbPerS, 1)} MB/s`,
    ],
    [
      'Backlog',
      `API p50 / p99, ${b.apiRate}/s, during the drain`,
      api(b.api.duringDrain),
      `${b.api.duringDrain.sent} orders, ${b.api.duringDrain.errors} errors; max ${fmt(b.api.duringDrain.max)} ms; p99 ×${fmt(b.api.p99DuringOverBaseline)} of the baseline`,
    ],
    [
      'Backlog',
      "API orders' wait for the relay (created → claimed)",
      b.claimLag.duringDrain && `${fmt(b.claimLag.duringDrain.p50, 0)} / ${fmt(b.claimLag.duringDrain.p99, 0)} ms`,
      `orders placed during the drain (one relay loop claims newest first); without a backlog ${b.claimLag.baseline ? `${fmt(b.claimLag.baseline.p50)} / ${fmt(b.claimLag.baseline.p99)} ms` : '—'}`,
    ],
  ];
}

// The backlog drain over time: rows/s, the API's p99 and the relay's RSS in each tenth.
export function backlogTable(b: Backlog): string {
  return table(
    ['from – to (s)', 'rows/s', 'API p99 (ms)', 'relay RSS max (MB)', 'our VACUUM/ANALYZE'],
    b.tenths.map((t) => [
      `${fmt(t.fromS, b.drain.seconds < 10 ? 2 : 1)} – ${fmt(t.toS, b.drain.seconds < 10 ? 2 : 1)}`,
      fmt(t.rowsPerS, 0),
      fmt(t.apiP99Ms),
      fmt(t.relayRssMaxMb, 1),
      t.vacuum,
    ]),
  );
}

function backlogNote(
  s:
    | { window: number; inFlightAtStart: number; inFlightAtEnd: number; backlogAtStart?: Record<string, number>; backlogAtEnd?: Record<string, number>; seconds: number }
    | undefined,
) {
  if (!s) return null;
  const b = (x?: Record<string, number>) =>
    x
      ? Object.entries(x)
          .map(([k, v]) => `${k} ${v}`)
          .join(' ')
      : '';
  return `${s.seconds} s; in flight ${s.inFlightAtStart} → ${s.inFlightAtEnd} (window ${s.window}); backlog [${b(s.backlogAtStart)}] → [${b(s.backlogAtEnd)}]`;
}

// A window during which the rest of the machine (other users) kept more than this busy.
export const DISTURBED_CORES = 0.25;

// Where the CPU went in each measuring window (cores; the machine has os.cpus().length of them).
export function cpuTable(r: Results): string {
  const present = cpuWindows(r);
  const columns = [...new Set(present.flatMap(([, c]) => Object.keys(c)))];
  const order = ['api', 'relay', 'workers', 'graphile-worker', 'lat-worker', 'postgres (our backends)', 'redis', 'harness', 'rest of machine', 'machine busy'];
  columns.sort((a, b) => ((order.indexOf(a) + 100) % 100) - ((order.indexOf(b) + 100) % 100));
  return table(
    ['window', ...columns],
    present.map(([name, c]) => [name, ...columns.map((k) => fmt(c[k]))]),
  );
}

// The windows whose figures other users of the machine disturbed.
export function disturbedWindows(r: Results): string[] {
  return cpuWindows(r)
    .filter(([, c]) => (c['rest of machine'] ?? 0) > DISTURBED_CORES)
    .map(([name, c]) => `${name} (${fmt(c['rest of machine'])} cores)`);
}

function cpuWindows(r: Results): Array<[string, Record<string, number>]> {
  const windows: Array<[string, Record<string, number> | undefined]> = [
    ['B_tx', r.tx?.cpu],
    ['B_add', r.add?.cpu],
    ['B_work', r.work?.cpu],
    ['B_lat at R', r.lat?.cpu],
    ['B_lat at P', r.latP?.cpu],
    ['B_tx interleaved', r.api?.txInterleaved.cpu],
    ['API alone', r.api?.alone.cpu],
    ['API wake-up on', r.api?.wakeupOn.cpu],
    ['API wake-up off', r.api?.wakeupOff.cpu],
    ['relay drain (ours)', r.drain?.ours.cpu],
    ['relay drain (ours, analyzed)', r.drain?.oursAnalyzed.cpu],
    ['relay drain (row-by-row poller)', r.drain?.seeds.cpu],
    ['e2e at R (ours)', r.pipeline?.e2e.R?.cpu],
    ['e2e at P (ours)', r.pipeline?.e2e.P?.cpu],
    ['e2e at P (row-by-row poller)', r.seeds?.e2e.P?.cpu],
    ['e2e at P (graphile-worker)', r.peer?.e2e.cpu],
    ['sustained (ours)', r.pipeline?.sustained?.cpu],
    ['sustained (graphile-worker)', r.peer?.sustained.cpu],
    ...(r.scaling?.byCount ?? []).map((c): [string, Record<string, number> | undefined] => [`relay scaling ×${c.relays}`, c.cpu]),
    ['backlog: API, no backlog', r.backlog?.api.baseline.cpu],
    ['backlog: drain + API', r.backlog?.drain.cpu],
  ];
  return windows.filter((w): w is [string, Record<string, number>] => !!w[1]);
}

function workLine(w: { commits: number; rowWrites: number; statements: number | null; redisCommands: number } | undefined): string | null {
  if (!w) return null;
  return `${w.commits} / ${w.rowWrites} / ${w.statements ?? 'n/a (no pg_stat_statements)'} / ${w.redisCommands}`;
}
