// The live view: one bar per stage in a terminal (cli-progress), or, when stdout is not a terminal
// (CI, a pipe, a file), one compact line about every second without any escape codes.
import cliProgress from 'cli-progress';
import { QUEUE_NAMES, type QueueName } from '../orders/topology.ts';
import type { QueueCounts, Stages } from './observe.ts';

export interface Snapshot {
  elapsedMs: number;
  orders: number;
  sent: number;
  placed: number;
  httpErrors: number;
  stages: Stages;
  queues?: Record<QueueName, QueueCounts> | undefined;
  // Failed jobs per queue when the demo started, so only new failures are shown.
  failedAtStart?: Record<QueueName, number> | undefined;
  readError?: string | undefined;
}

export interface ProgressView {
  update(s: Snapshot): void;
  stop(s: Snapshot): void;
}

export const PLAIN_EVERY_MS = 1000;

// "jobs: 2 retrying (payments 2), 3 new failed (payments 3)". Whole queues, not only the demo's jobs.
export function jobsText(queues: Record<QueueName, QueueCounts> | undefined, failedAtStart: Record<QueueName, number> | undefined): string {
  if (!queues) return 'jobs: —';
  const part = (label: string, count: (q: QueueName) => number) => {
    const per = QUEUE_NAMES.map((q) => [q, count(q)] as const).filter(([, n]) => n > 0);
    const total = per.reduce((sum, [, n]) => sum + n, 0);
    return total === 0 ? `0 ${label}` : `${total} ${label} (${per.map(([q, n]) => `${q} ${n}`).join(', ')})`;
  };
  const retrying = part('retrying', (q) => queues[q].delayed);
  const failed = part('new failed', (q) => Math.max(0, queues[q].failed - (failedAtStart?.[q] ?? 0)));
  return `jobs: ${retrying}, ${failed}`;
}

export function progressLine(s: Snapshot): string {
  const t = `[${(s.elapsedMs / 1000).toFixed(1).padStart(5)}s]`;
  const st = s.stages;
  const stages = `created ${s.placed}/${s.orders}  paid ${st.paid}  delivered ${st.delivered}  invoiced ${st.invoiced}  failed ${st.paymentFailed + st.deliveryFailed}`;
  const http = s.httpErrors > 0 ? `  http errors ${s.httpErrors}` : '';
  const sending = s.sent < s.orders ? `  (sent ${s.sent})` : '';
  const error = s.readError ? ` | progress read failed: ${s.readError}` : '';
  return `${t} ${stages}${http}${sending} | ${jobsText(s.queues, s.failedAtStart)}${error}`;
}

export function createProgressView(out: NodeJS.WriteStream, tty: boolean): ProgressView {
  return tty ? barView(out) : plainView(out);
}

function plainView(out: NodeJS.WritableStream): ProgressView {
  let lastPrintedAt = -Infinity;
  let lastLine = '';
  const print = (line: string) => {
    lastLine = line;
    out.write(`${line}\n`);
  };
  return {
    update(s) {
      if (s.elapsedMs - lastPrintedAt < PLAIN_EVERY_MS) return;
      lastPrintedAt = s.elapsedMs;
      print(progressLine(s));
    },
    // The final state, unless the last line already showed it (the time aside).
    stop(s) {
      const line = progressLine(s);
      if (line.slice(line.indexOf(']')) !== lastLine.slice(lastLine.indexOf(']'))) print(line);
    },
  };
}

const STAGES = ['created', 'paid', 'delivered', 'invoiced', 'failed'] as const;

function barView(out: NodeJS.WriteStream): ProgressView {
  const multi = new cliProgress.MultiBar(
    { stream: out, hideCursor: true, clearOnComplete: false, autopadding: true, format: ' {stage} {bar} {value}/{total} {note}', barsize: 30 },
    cliProgress.Presets.shades_classic,
  );
  type Bars = Record<(typeof STAGES)[number], cliProgress.SingleBar>;
  let bars: Bars | undefined;
  let info: cliProgress.SingleBar | undefined;
  const values = (s: Snapshot) =>
    ({
      created: [s.placed, `${s.sent < s.orders ? `sending, ${s.sent} sent` : 'all sent'}${s.httpErrors > 0 ? `, ${s.httpErrors} HTTP errors` : ''}`],
      paid: [s.stages.paid, ''],
      delivered: [s.stages.delivered, ''],
      invoiced: [s.stages.invoiced, ''],
      failed: [s.stages.paymentFailed + s.stages.deliveryFailed, `payment ${s.stages.paymentFailed}, delivery ${s.stages.deliveryFailed}`],
    }) as const;
  const render = (s: Snapshot) => {
    if (!bars) {
      bars = Object.fromEntries(STAGES.map((stage) => [stage, multi.create(s.orders, 0, { stage: stage.padEnd(9), note: '' })])) as Bars;
      info = multi.create(1, 0, { text: '' }, { format: ' {text}' });
    }
    const v = values(s);
    for (const stage of STAGES) bars![stage].update(v[stage][0], { stage: stage.padEnd(9), note: v[stage][1] });
    info!.update(0, { text: `${(s.elapsedMs / 1000).toFixed(1)}s  ${jobsText(s.queues, s.failedAtStart)}${s.readError ? `  (progress read failed: ${s.readError})` : ''}` });
  };
  return {
    update: render,
    stop(s) {
      render(s);
      multi.stop();
    },
  };
}
