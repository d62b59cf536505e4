// One demo run: place the orders on schedule while a ticker reads their stages (one statement per
// tick) and the queues' counts, wait for them to settle, then summarise and audit.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeInvoicesSql, openInvoicesSql } from '../audit/invoices-db.ts';
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

// A problem with the setup, not a finding: the CLI exits 2 with this message.
export interface RunDeps {
  args: DemoArgs;
  config: Config;
  sql: Sql;
  queues: Queues;
  out: NodeJS.WriteStream;
  signal: AbortSignal; // aborted on Ctrl-C: stop placing and waiting, skip the audit
}

export async function runDemo({ args, config, sql, queues, out, signal }: RunDeps): Promise<number> {
  out.write(`Demo: ${args.orders} orders at ${args.rate}/s to ${args.url} (seed ${args.seed}). Ctrl-C stops early.\n`);
  const failedAtStart = await readQueueCounts(queues).then(
    (c) => Object.fromEntries(QUEUE_NAMES.map((q) => [q, c[q].failed])) as Record<QueueName, number>,
    () => undefined,
  );

  const ids: string[] = [];
  const httpErrors: Record<string, number> = {};
  const placementLatenciesMs: number[] = [];
  let sent = 0;
  let retriedPosts = 0;
  let firstCreatedAt: number | undefined;
  const onPlaced = (p: Placement) => {
    if (p.retried) retriedPosts++;
    if (p.ok && p.orderId) {
      ids.push(p.orderId);
      placementLatenciesMs.push(p.latencyMs);
      firstCreatedAt ??= performance.now();
    } else {
      httpErrors[String(p.outcome)] = (httpErrors[String(p.outcome)] ?? 0) + 1;
    }
  };

  const mix = createOrderMix(args.seed);
  const stopPlacing = new AbortController();
  const started = performance.now();
  let placedAll = false;
  let lastSentAt = started;
  const placing = placeOrders({
    url: args.url,
    orders: args.orders,
    rate: args.rate,
    concurrency: args.concurrency,
    request: (i) => {
      sent++;
      lastSentAt = performance.now();
      return mix(i);
    },
    keyPrefix: `demo-${randomBytes(6).toString('hex')}`,
    onPlaced,
    signal: AbortSignal.any([signal, stopPlacing.signal]),
  }).then(() => {
    placedAll = true;
  });

  let stages: Stages = NO_STAGES;
  let queueCounts: Record<QueueName, QueueCounts> | undefined;
  let readError: string | undefined;
  const view = createProgressView(out, Boolean(out.isTTY));
  const snapshot = (): Snapshot => ({
    elapsedMs: performance.now() - started,
    orders: args.orders,
    sent,
    placed: ids.length,
    httpErrors: Object.values(httpErrors).reduce((a, b) => a + b, 0),
    stages,
    queues: queueCounts,
    failedAtStart,
    readError,
  });

  let deadline: number | undefined;
  try {
    for (;;) {
      const answeredAll = placedAll;
      const readIds = ids.slice();
      const [s, q] = await Promise.allSettled([readStages(sql, readIds), readQueueCounts(queues)]);
      if (s.status === 'fulfilled') stages = s.value;
      if (q.status === 'fulfilled') queueCounts = q.value;
      const failure = [s, q].find((r) => r.status === 'rejected');
      readError = failure ? String((failure.reason as Error)?.message ?? failure.reason) : undefined;
      view.update(snapshot());

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
  await placing;

  const finalIds = ids.slice();
  stages = await readStages(sql, finalIds);
  const result: DemoResult = {
    url: args.url,
    seed: args.seed,
    orders: args.orders,
    rate: args.rate,
    sent,
    placed: finalIds.length,
    sendSpanMs: lastSentAt - started,
    httpErrors,
    retriedPosts,
    placementLatenciesMs,
    stages,
    latencies: await readLatencies(sql, finalIds),
    jobs: await readDemoJobs(sql, queues, finalIds),
  };
  out.write(`\n${formatSummary(result)}\n`);
  const hints = dashboardHints(result, config.ADMIN_USER, config.QUEUE_PREFIX);
  if (hints.length > 0) out.write(`\n${hints.join('\n')}\n`);

  let auditOk: boolean | undefined;
  if (!signal.aborted) {
    const invoicesSql = openInvoicesSql(config, 'demo-audit');
    const report = await runAudit({
      sql,
      invoicesSql,
      queues,
      settleMs: AUDIT_SETTLE_MS,
      lockDurationMs: config.WORKER_LOCK_DURATION_MS,
      outboxRetentionMs: config.OUTBOX_RETENTION_S * 1000,
      limit: AUDIT_ITEMS_SHOWN,
    }).finally(() => closeInvoicesSql(invoicesSql));
    auditOk = report.ok;
    out.write(`\nAudit of the whole system (settle time ${AUDIT_SETTLE_MS / 1000} s): ${verdictLine(report)}\n`);
    const violations = auditViolations(report);
    if (violations.length > 0) out.write(`${violations.join('\n')}\n`);
  }

  const outcome = conclude({ orders: args.orders, placed: result.placed, settled: stages.settled, timeoutS: args.timeoutS, auditOk, interrupted: signal.aborted });
  out.write(`\n${outcome.lines.join('\n')}\n`);
  return outcome.code;
}

// A URL without its credentials, for messages.
