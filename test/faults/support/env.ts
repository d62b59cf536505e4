// The environment every role process of a fault test gets: the test's own database and queue
// prefix, and timings small enough that crashes, stalls and lost jobs heal within seconds.
import type { TestContext } from '../../support/context.ts';

export const LOCK_DURATION_MS = 2000;

export function faultEnv(ctx: TestContext, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...ctx.env,
    LOG_LEVEL: 'warn',
    RELAY_POLL_INTERVAL_MS: '200',
    JOB_BACKOFF_MS: '50',
    WORKER_LOCK_DURATION_MS: String(LOCK_DURATION_MS),
    WORKER_STALLED_INTERVAL_MS: '1000',
    RECONCILE_AFTER_MS: '1500',
    RECONCILE_INTERVAL_MS: '300',
    SHUTDOWN_GRACE_MS: '4000',
    PG_CONNECT_TIMEOUT_S: '2',
    // Small pools and concurrency: a dozen processes share two cores and one Postgres.
    PG_POOL_MAX: '4',
    WORKER_CONCURRENCY: '8',
    ...extra,
  };
}
