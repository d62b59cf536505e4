// After the load: wait (bounded) until the backlog has drained (no job to run, no event to publish,
// no order short of a final status), saying how far it is every few seconds; then run the project's
// audit (dist/audit/cli.js of the run's snapshot, with the roles' environment, as `npm run audit`
// runs it) against the run's database and prefix.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { OrderQueues } from '../src/orders/queues.ts';
import { sleep } from './proc.ts';
import { jobCounts, sampleDb } from './sampler.ts';

export interface SettleOutcome {
  settled: boolean;
  ms: number;
  last: { pendingJobs: number; unpublished: number; notFinal: number } | null;
}

export async function waitForSettle(sql: Sql, queues: OrderQueues, timeoutSec: number, log: (m: string) => void): Promise<SettleOutcome> {
  const t0 = Date.now();
  let last: SettleOutcome['last'] = null;
  let lastPrint = 0;
  while (Date.now() - t0 < timeoutSec * 1000) {
    try {
      const [db, jobs] = await Promise.all([sampleDb(sql), jobCounts(queues)]);
      last = { pendingJobs: jobs.pending, unpublished: db.unpublished, notFinal: db.notFinal };
      if (jobs.pending === 0 && db.unpublished === 0 && db.notFinal === 0) return { settled: true, ms: Date.now() - t0, last };
    } catch (err) {
      last = null;
      if (Date.now() - lastPrint > 5000) log(`settling: cannot read the backlog yet (${(err as Error).message})`);
    }
    if (last && Date.now() - lastPrint > 5000) {
      lastPrint = Date.now();
      log(`settling ${((Date.now() - t0) / 1000).toFixed(0)} s: ${last.pendingJobs} jobs to run, ${last.unpublished} events to publish, ${last.notFinal} orders not final`);
    }
    await sleep(1000);
  }
  return { settled: false, ms: Date.now() - t0, last };
}

export interface AuditOutcome {
  exitCode: number | null;
  verdict?: string;
  counts?: { lost: number; duplicated: number; unexpected: number; stuck: number; recovered: number };
  totals?: { orders: number; outboxRows: number; jobsScanned: number; jobsPastRetention: number };
  reportFile?: string;
  report?: unknown; // the audit's JSON report, for the soak's --json file
  error?: string;
}

interface AuditJson {
  ok: boolean;
  counts: NonNullable<AuditOutcome['counts']>;
  totals: NonNullable<AuditOutcome['totals']>;
}

// Settle time 0 once the backlog has drained (what the fault tests do): anything unfinished is lost.
export async function runAuditCli(app: string, env: Record<string, string>, dir: string, settleMs: number): Promise<AuditOutcome> {
  const reportFile = join(dir, 'audit.json');
  const args = [join(app, 'dist/audit/cli.js'), '--json', reportFile, '--settle-ms', String(settleMs), '--limit', '20'];
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: app, env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'warn' }, timeout: 10 * 60_000, maxBuffer: 16 << 20 },
      (err, _out, errOut) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr: errOut }),
    );
  });
  const verdict = stderr.split('\n').find((l) => / lost, .* duplicated, /.test(l));
  try {
    const report = JSON.parse(await readFile(reportFile, 'utf8')) as AuditJson;
    return { exitCode: code, verdict: verdict ?? (report.ok ? 'OK' : 'FAILED'), counts: report.counts, totals: report.totals, reportFile, report };
  } catch {
    return { exitCode: code, error: `no report (exit ${code}): ${stderr.trim().slice(-500)}` };
  }
}
