// The soak's command line (node:util.parseArgs, strict: an unknown flag is a usage error) and the
// settings every role of the run gets: short retention, so that the outbox, the inbox and Redis
// reach their steady size within minutes and boundedness is visible within the run.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

export interface SoakOptions {
  minutes: number;
  rate: number;
  faultEverySec: number;
  json?: string | undefined;
  database: string;
  prefix: string;
  keep: boolean;
  retentionSec: number;
  settleTimeoutSec: number;
  sampleEverySec: number;
  apis: number;
  relays: number;
  workers: number;
  runId: string;
}

export const USAGE = `Usage: npm run soak -- [options]   (or: npx tsx soak/run.ts [options])

A long run at a moderate rate with faults injected on a schedule, on a private Postgres cluster
and a private redis-server (both started and removed by the run). Exit 0 when the audit is clean,
every fault was verified, no role crashed by itself and no memory series grew unbounded.

  --minutes N        minutes of load (default 60)
  --rate N           orders per second (default 30)
  --fault-every N    seconds between faults, round-robin over the kinds (default 120; 0: none)
  --json FILE        write the samples, the faults and the summary to FILE
  --database NAME    the run's database in the private cluster (default outbox_soak_<run>)
  --prefix P         the run's BullMQ key prefix (default {soak-<run>})
  --retention N      seconds completed and failed jobs are kept in Redis; outbox and inbox
                     rows are kept 2N (default 60, the smallest the service accepts)
  --settle-timeout N seconds to wait for the backlog after the load stops (default 300)
  --sample-every N   seconds between samples (default 10)
  --apis N --relays N --workers N   processes per role (default 2 each)
  --keep             keep the run's directory (servers' data, logs) instead of removing it
  -h, --help         this text`;

export class UsageError extends Error {}

function num(flag: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${flag} expects a number of at least ${min}, got "${raw}"`);
  return n;
}

export function parseOptions(argv: readonly string[]): SoakOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        minutes: { type: 'string' },
        rate: { type: 'string' },
        'fault-every': { type: 'string' },
        json: { type: 'string' },
        database: { type: 'string' },
        prefix: { type: 'string' },
        retention: { type: 'string' },
        'settle-timeout': { type: 'string' },
        'sample-every': { type: 'string' },
        apis: { type: 'string' },
        relays: { type: 'string' },
        workers: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const runId = randomBytes(3).toString('hex');
  const database = values.database ?? `outbox_soak_${runId}`;
  const prefix = values.prefix ?? `{soak-${runId}}`;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new UsageError(`--database must be a plain lower-case identifier, got "${database}"`);
  if (!/^[^:\s]+$/.test(prefix)) throw new UsageError(`--prefix must not contain ":" or spaces, got "${prefix}"`);
  return {
    minutes: num('--minutes', values.minutes, 60, 0.5),
    rate: num('--rate', values.rate, 30, 0.1),
    faultEverySec: num('--fault-every', values['fault-every'], 120, 0),
    json: values.json,
    database,
    prefix,
    keep: values.keep ?? false,
    retentionSec: Math.round(num('--retention', values.retention, 60, 60)),
    settleTimeoutSec: num('--settle-timeout', values['settle-timeout'], 300, 10),
    sampleEverySec: num('--sample-every', values['sample-every'], 10, 1),
    apis: Math.round(num('--apis', values.apis, 2, 1)),
    relays: Math.round(num('--relays', values.relays, 2, 1)),
    workers: Math.round(num('--workers', values.workers, 2, 2)),
    runId,
  };
}

// Worker timings: a frozen worker loses its jobs to the other one within seconds.
export const LOCK_DURATION_MS = 5000;
export const STALLED_INTERVAL_MS = 2000;

// What every role process of the run is started with (besides its URLs, prefix and port).
export function roleSettings(o: SoakOptions): Record<string, string> {
  const r = o.retentionSec;
  return {
    // warn: at info every order and job logs a line (hundreds of MB an hour); readiness is probed over HTTP.
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1',
    ADMIN_PASSWORD: 'soak-admin-password',
    ORDER_RATE_LIMIT_PER_MINUTE: '0',
    LIST_RATE_LIMIT_PER_MINUTE: '0',
    AUTH_RATE_LIMIT_PER_MINUTE: '0',
    // Retention short enough to reach a steady state within minutes (see the header). Rows outlive
    // the jobs that name them by r: see auditEnv.
    OUTBOX_RETENTION_S: String(2 * r),
    INBOX_RETENTION_S: String(2 * r),
    JOB_KEEP_COMPLETED_S: String(r),
    JOB_KEEP_FAILED_S: String(r),
    IDEMPOTENCY_KEY_TTL_S: String(r),
    RETENTION_INTERVAL_MS: '10000',
    // The reconciler confirms consumed rows (retention only prunes confirmed ones) every 5 s.
    RECONCILE_AFTER_MS: '15000',
    RECONCILE_INTERVAL_MS: '5000',
    WORKER_LOCK_DURATION_MS: String(LOCK_DURATION_MS),
    WORKER_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
    WORKER_MAX_STALLED_COUNT: '5',
    JOB_BACKOFF_MS: '200',
    // Payments and deliveries take a moment, so a frozen or killed worker has jobs in hand.
    GATEWAY_LATENCY_MS: '100',
    DELIVERY_LATENCY_MS: '50',
    PG_POOL_MAX: '4',
    PG_CONNECT_TIMEOUT_S: '2',
    SHUTDOWN_GRACE_MS: '5000',
  };
}

// The audit's environment: the roles' with OUTBOX_RETENTION_S lowered to r. The audit exempts from
// its row check the jobs added before now − OUTBOX_RETENTION_S (their rows may be pruned), while
// retention prunes by the row's created_at, and keeps pruning while the audit runs: with the
// roles' value, a job added just after the cutoff whose row was created just before it, or pruned
// during the audit's scan, is reported as an orphan_job (unexpected). The first soaks did that
// (16 at the retention boundary). With r, every job whose row may be gone is exempt unless it was
// published more than r after its row was written; jobs of the last r are checked in full.
export function auditEnv(env: Record<string, string>, o: SoakOptions): Record<string, string> {
  return { ...env, OUTBOX_RETENTION_S: String(o.retentionSec) };
}

// Samples before this are warm-up for the tables and Redis: inbox retention plus a pass and a reconcile.
export function warmupSec(o: SoakOptions): number {
  return 2 * o.retentionSec + 30;
}
