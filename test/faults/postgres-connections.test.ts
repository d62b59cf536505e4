// Fault: another client takes every connection Postgres has (max_connections reached) while orders
// arrive. A process that starts then refuses to, with one line naming the cause and what to do;
// the running ones keep working on the connections their pools hold (a request that needs a new one
// meets "too many clients" as Postgres unavailable: a 503 with Retry-After, a job put back without
// spending an attempt); nothing is lost once connections free up. The server is the test's own,
// with max_connections=40.
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders } from './support/driver.ts';
import { faultSuite, privatePostgres } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';

const ORDERS = 400;
const suite = faultSuite({ server: privatePostgres({ maxConnections: 40 }) });

// Opens connections until Postgres refuses one with too_many_connections (53300).
async function takeEveryConnection(url: string): Promise<postgres.Sql[]> {
  const hogs: postgres.Sql[] = [];
  for (let i = 0; i < 60; i++) {
    const hog = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      await hog`SELECT 1`;
      hogs.push(hog);
    } catch (err) {
      await hog.end({ timeout: 1 });
      if ((err as { code?: string }).code === '53300') return hogs;
      throw err;
    }
  }
  throw new Error('Postgres never refused a connection: max_connections is not what the test set');
}

describe('Postgres out of connections under load', () => {
  it(
    'refuses to start a new process with a clear line, keeps the running ones working, loses nothing',
    async () => {
      const { ctx, cluster, audit } = suite;
      await cluster.startMany([['api'], ['relay'], ['worker']]);
      const drive = driveOrders({ urls: () => cluster.apiUrls(), count: ORDERS, ratePerSec: 30, retry: { maxAttempts: 40, pauseMs: 250 } });
      await waitFor('the first orders to be placed', () => drive.finished() >= 30);

      const hogs = await takeEveryConnection(ctx.config.DATABASE_URL);
      const finishedWhenFull = drive.finished();
      const late = await cluster.start('relay', {}, { wait: false });
      const exit = await late.child.exited;
      expect(exit.code).toBe(1);
      expect(late.output()).toContain('has no connection left (max_connections reached)');
      // The running processes kept working meanwhile, on the connections their pools hold.
      await waitFor('orders to be answered while Postgres is full', () => drive.finished() > finishedWhenFull + 20 || undefined);
      await Promise.all(hogs.map((h) => h.end({ timeout: 1 })));

      const result = await drive.done;
      expect(result.accepted, JSON.stringify(result.statuses)).toHaveLength(ORDERS); // every order placed in the end, some after a 503
      const report = await settle(ctx, audit.queues);
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
      expect(cluster.crashes('api') + cluster.crashes('worker'), cluster.describe()).toBe(0);
    },
    scaled(120_000),
  );
});
