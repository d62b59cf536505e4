// One demo run: place the orders on schedule while a ticker reads their stages (one statement per
// tick) and the queues' counts, wait for them to settle, then summarise and audit.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { runAudit } from '../audit/audit.ts';
import { verdictLine } from '../audit/summary.ts';
import type { Config } from '../config.ts';
import { safeUrl, SetupError } from '../tool-connections.ts';
import type { Sql } from '../db/client.ts';
import { QUEUE_NAMES, type QueueName } from '../orders/topology.ts';
import type { OrderQueues as Queues } from '../orders/queues.ts';
import type { DemoArgs } from './args.ts';
import { placeOrders, type Placement } from './driver.ts';
import { createOrderMix } from './mix.ts';
import { NO_STAGES, readDemoJobs, readLatencies, readQueueCounts, readStages, type QueueCounts, type Stages } from './observe.ts';
import { createProgressView, type Snapshot } from './progress.ts';
import { auditViolations, AUDIT_ITEMS_SHOWN, conclude, dashboardHints, formatSummary, type DemoResult } from './summary.ts';

export const TICK_MS = 250;
// The demo waits until its own orders are final, billed and their events published, so the audit
// only has to spare other clients' work in flight: anything older than this that is unfinished is
// reported. (The audit's CLI default, 30 s, would spare every order of a short demo.)
export const AUDIT_SETTLE_MS = 5000;
// Orders answered 201 that the database still does not show after this: the demo reads another database.
const MISSING_ORDERS_AFTER_MS = 5000;

export interface RunDeps {
  args: DemoArgs;
  config: Config;
  sql: Sql;
  // The invoice service's database (INVOICES_DATABASE_URL), or the same pool as `sql`.
  invoicesSql: Sql;
  queues: Queues;
  out: NodeJS.WriteStream;
  signal: AbortSignal; // aborted on Ctrl-C: stop placing and waiting, skip the audit
}

export async function runDemo(deps: RunDeps): Promise<number> {
  const { args, config, sql, invoicesSql, queues, out, signal } = deps;
  out.write(`Demo: ${args.orders} orders at ${args.rate}/s to ${args.url} (seed ${args.seed}). Ctrl-C stops early.\n`);
  const failedAtStart = await readFailedCounts(queues);

  const stopPlacing = new AbortController();
  const { progress, done: placed } = startPlacing(args, AbortSignal.any([signal, stopPlacing.signal]));
  await watchUntilSettled(deps, progress, stopPlacing, failedAtStart);
  await placed;

  const result = await buildResult(args, sql, invoicesSql, queues, progress);
  out.write(`\n${formatSummary(result)}\n`);
  const hints = dashboardHints(result, config.ADMIN_USER, config.QUEUE_PREFIX);
  if (hints.length > 0) out.write(`\n${hints.join('\n')}\n`);

  const auditOk = signal.aborted ? undefined : await auditWholeSystem(config, sql, invoicesSql, queues, out);
  const outcome = conclude({
    orders: args.orders,
    placed: result.placed,
    settled: result.stages.settled,
    timeoutS: args.timeoutS,
    auditOk,
    interrupted: signal.aborted,
    rateLimited: progress.httpErrors['429'] ?? 0,
  });
  out.write(`\n${outcome.lines.join('\n')}\n`);
  return outcome.code;
}

// Failed jobs per queue before the demo starts, so the progress view shows only new failures;
// undefined when Redis cannot be read (the view then counts every failed job).
function readFailedCounts(queues: Queues): Promise<Record<QueueName, number> | undefined> {
  return readQueueCounts(queues).then(
    (c) => Object.fromEntries(QUEUE_NAMES.map((q) => [q, c[q].failed])) as Record<QueueName, number>,
    () => undefined,
  );
}

// What placing the orders has done so far; the ticker reads it while they go out.
interface PlacingProgress {
  started: number;
  sent: number;
  lastSentAt: number;
  // Every order sent has been answered, and no more will be sent (all were, or the signal stopped the schedule).
  placedAll: boolean;
  ids: string[];
  httpErrors: Record<string, number>;
  placementLatenciesMs: number[];
  retriedPosts: number;
  // When the first order was answered 201, to tell when the database should show it.
  firstCreatedAt: number | undefined;
}

// Starts placing the orders on schedule and returns at once; `done` settles when all are answered.
function startPlacing(args: DemoArgs, signal: AbortSignal): { progress: PlacingProgress; done: Promise<void> } {
  const mix = createOrderMix(args.seed);
  const started = performance.now();
  const progress: PlacingProgress = {
    started,
    sent: 0,
    lastSentAt: started,
    placedAll: false,
    ids: [],
    httpErrors: {},
    placementLatenciesMs: [],
    retriedPosts: 0,
    firstCreatedAt: undefined,
  };
  const done = placeOrders({
    url: args.url,
    orders: args.orders,
    rate: args.rate,
    concurrency: args.concurrency,
    request: (i) => {
      progress.sent++;
      progress.lastSentAt = performance.now();
      return mix(i);
    },
    keyPrefix: `demo-${randomBytes(6).toString('hex')}`,
    onPlaced: (p) => recordPlacement(progress, p),
    signal,
  }).then(() => {
    progress.placedAll = true;
  });
  return { progress, done };
}

function recordPlacement(progress: PlacingProgress, p: Placement): void {
  if (p.retried) progress.retriedPosts++;
  if (p.ok && p.orderId) {
    progress.ids.push(p.orderId);
    progress.placementLatenciesMs.push(p.latencyMs);
    progress.firstCreatedAt ??= performance.now();
  } else {
    progress.httpErrors[String(p.outcome)] = (progress.httpErrors[String(p.outcome)] ?? 0) + 1;
  }
}

// Reads the placed orders' stages (one statement per tick) and the queues' counts every tick and
// shows them, until every order answered is settled, the timeout after the last answer passes, or
// Ctrl-C. Throws a SetupError when the database never shows the orders placed; placing is then
// stopped, so the caller need not wait for the rest of the orders.
async function watchUntilSettled(
  { args, config, sql, invoicesSql, queues, out, signal }: RunDeps,
  progress: PlacingProgress,
  stopPlacing: AbortController,
  failedAtStart: Record<QueueName, number> | undefined,
): Promise<void> {
  let stages: Stages = NO_STAGES;
  let queueCounts: Record<QueueName, QueueCounts> | undefined;
  let readError: string | undefined;
  const view = createProgressView(out, Boolean(out.isTTY));
  const snapshot = (): Snapshot => ({
    elapsedMs: performance.now() - progress.started,
    orders: args.orders,
    sent: progress.sent,
    placed: progress.ids.length,
    httpErrors: Object.values(progress.httpErrors).reduce((a, b) => a + b, 0),
    stages,
    queues: queueCounts,
    failedAtStart,
    readError,
  });

  let deadline: number | undefined;
  try {
    for (;;) {
      const answeredAll = progress.placedAll;
      const readIds = progress.ids.slice();
      const [s, q] = await Promise.allSettled([readStages(sql, invoicesSql, readIds), readQueueCounts(queues)]);
      if (s.status === 'fulfilled') stages = s.value;
      if (q.status === 'fulfilled') queueCounts = q.value;
      const failure = [s, q].find((r) => r.status === 'rejected');
      readError = failure ? String((failure.reason as Error)?.message ?? failure.reason) : undefined;
      view.update(snapshot());

      const { firstCreatedAt } = progress;
      if (firstCreatedAt !== undefined && stages.found === 0 && s.status === 'fulfilled' && performance.now() - firstCreatedAt > MISSING_ORDERS_AFTER_MS) {
        throw new SetupError(
          `the orders placed at ${args.url} are not in the database at ${safeUrl(config.DATABASE_URL)}: run the demo with the service's DATABASE_URL (and its REDIS_URL and QUEUE_PREFIX)`,
        );
      }
      if (signal.aborted) break;
      if (answeredAll) {
        deadline ??= performance.now() + args.timeoutS * 1000;
        if (stages.settled >= readIds.length || performance.now() >= deadline) break;
      }
      await sleep(TICK_MS);
    }
  } catch (err) {
    stopPlacing.abort();
    throw err;
  } finally {
    view.stop(snapshot());
  }
}

// The summary's figures, read once placing is done and the watching has ended.
async function buildResult(args: DemoArgs, sql: Sql, invoicesSql: Sql, queues: Queues, progress: PlacingProgress): Promise<DemoResult> {
  const finalIds = progress.ids.slice();
  const stages = await readStages(sql, invoicesSql, finalIds);
  return {
    url: args.url,
    seed: args.seed,
    orders: args.orders,
    rate: args.rate,
    sent: progress.sent,
    placed: finalIds.length,
    sendSpanMs: progress.lastSentAt - progress.started,
    httpErrors: progress.httpErrors,
    retriedPosts: progress.retriedPosts,
    placementLatenciesMs: progress.placementLatenciesMs,
    stages,
    latencies: await readLatencies(sql, finalIds),
    jobs: await readDemoJobs(sql, queues, finalIds),
  };
}

// Audits the whole system, not only the demo's orders, prints the verdict and any violations, and
// returns whether the audit passed.
async function auditWholeSystem(config: Config, sql: Sql, invoicesSql: Sql, queues: Queues, out: NodeJS.WriteStream): Promise<boolean> {
  const report = await runAudit({
    sql,
    invoicesSql,
    queues,
    settleMs: AUDIT_SETTLE_MS,
    lockDurationMs: config.WORKER_LOCK_DURATION_MS,
    outboxRetentionMs: config.OUTBOX_RETENTION_S * 1000,
    limit: AUDIT_ITEMS_SHOWN,
  });
  out.write(`\nAudit of the whole system (settle time ${AUDIT_SETTLE_MS / 1000} s): ${verdictLine(report)}\n`);
  const violations = auditViolations(report);
  if (violations.length > 0) out.write(`${violations.join('\n')}\n`);
  return report.ok;
}
