// Fault: a slow, lossy and partitioned network between the roles and Postgres (issue 14, scenario 2).
// Every role (api, relay, worker, as separate processes) reaches the test's own Postgres only
// through a TCP proxy in the test (support/tcp-proxy.ts), which, while orders keep arriving, adds
// 25–100 ms each way (a round trip 50–200 ms longer), then stalls chunks (TCP retransmissions after
// a lost segment) and resets connections now and then, then blackholes the link for 3 s (nothing
// forwarded, sockets kept open: queries just wait, and the API's REQUEST_TIMEOUT_MS answers 503)
// and then partitions it for 3 s with resets (every connection reset, every reconnect refused:
// connection errors, a fast 503, and postgres.js reconnects through the proxy after heal).
//
// Two kinds of client: plain ones that send each order once (201 or 503, nothing else, and never
// later than the API's request timeout), and careful ones that retry a 503 with the same
// Idempotency-Key (each gets its order, and no key ever yields two). Each phase checks that its
// fault happened (the proxy's counters) and, after each heal, that the roles' traffic goes through
// the proxy again and the pipeline moves, and after the last that the API takes orders again; at
// the end every order the database holds — including those answered 503 whose commit got through
// anyway — settles with every effect exactly once. The test's own view (audit, settle, progress)
// talks to Postgres directly.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders, latencySummary, type Attempt, type Drive, type DrivenOrder } from './support/driver.ts';
import { faultSuite, privatePostgres } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';
import { runNetworkFaults } from './support/network-faults.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const RATE = 16; // plain orders a second
// Careful clients: a few orders a second, each retried after a 503 a second later, a few times.
// (Before work for requests already answered was dropped, 4 a second retried every 0.5 s tipped
// the API into answering only 503s long after the network healed, in 4 runs of 5; with it, those
// constants passed 3 runs of 3. The suite keeps the gentler ones: they prove the same guarantees.)
const KEYED_RATE = 2;
const KEYED_RETRY = { maxAttempts: 6, pauseMs: 1000 };
const REQUEST_TIMEOUT_MS = 2000;
const LATENCY = { latencyMs: 25, jitterMs: 75 }; // each way
const LOSS = { stallProbability: 0.05, stallMs: 300, resetProbability: 0.005 };
const HOLD_MS = 4000; // latency, and loss, at least this long
const PARTITION_MS = 3000;

const suite = faultSuite({ server: privatePostgres(), env: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) } });
let proxy: TcpProxy | undefined;
beforeAll(async () => {
  proxy = await startTcpProxy({ port: suite.server.port });
});
afterAll(async () => {
  await proxy?.close();
});

interface Run {
  k: number;
  startedAt: number;
  plain: Drive;
  keyed: Drive;
  // Plain orders accepted, once the run is over.
  accepted?: number;
}

// Orders until stop(): one pair of driveOrders runs (plain and keyed) a second, so the drive lasts
// exactly as long as the phases do, however long the load makes them. `startedAt` of each run
// tells which phase its orders were placed in.
function driveUntilStopped(urls: () => string[]) {
  const runs: Run[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let k = 0; !stopped; k++) {
      const run: Run = {
        k,
        startedAt: Date.now(),
        plain: driveOrders({ urls, count: RATE, ratePerSec: RATE, name: `Net ${k}` }),
        keyed: driveOrders({ urls, count: KEYED_RATE, ratePerSec: KEYED_RATE, name: `Keyed ${k}`, retry: KEYED_RETRY }),
      };
      void run.plain.done.then((r) => (run.accepted = r.accepted.length));
      runs.push(run);
      await sleep(1000);
    }
  })();
  // Each order with the customer name it was placed under (orderBody: `${name} ${index}`).
  const ordersOf = async (kind: 'plain' | 'keyed', within: Run[]): Promise<Placed[]> => {
    const results = await Promise.all(within.map(async (r) => ({ r, result: await r[kind].done })));
    return results.flatMap(({ r, result }) => result.orders.map((o) => ({ ...o, customer: `${kind === 'plain' ? 'Net' : 'Keyed'} ${r.k} ${o.index}` })));
  };
  return {
    sent: () => runs.reduce((n, r) => n + r.plain.sent() + r.keyed.sent(), 0),
    // Plain orders accepted so far among those placed from `from` on.
    acceptedSince: (from: number) => runs.filter((r) => r.startedAt >= from).reduce((n, r) => n + (r.accepted ?? 0), 0),
    // The careful clients of the runs started from `from` on, once they are done.
    keyedSince: (from: number) =>
      ordersOf(
        'keyed',
        runs.filter((r) => r.startedAt >= from),
      ),
    // The plain attempts of the runs started within [from, to).
    async plainAttemptsBetween(from: number, to: number): Promise<Attempt[]> {
      const within = runs.filter((r) => r.startedAt >= from && r.startedAt < to);
      return (await ordersOf('plain', within)).flatMap((o) => o.attempts);
    },
    async stop(): Promise<{ plain: Placed[]; keyed: Placed[] }> {
      stopped = true;
      await loop;
      return { plain: await ordersOf('plain', runs), keyed: await ordersOf('keyed', runs) };
    },
  };
}

type Placed = DrivenOrder & { customer: string };

function countStatuses(attempts: Attempt[]): Record<string, number> {
  const statuses: Record<string, number> = {};
  for (const a of attempts) statuses[String(a.status)] = (statuses[String(a.status)] ?? 0) + 1;
  return statuses;
}

describe('a slow, lossy and partitioned network between the roles and Postgres', () => {
  it(
    'answers 201 or a fast 503, reconnects through the proxy after each partition, and settles exactly once',
    async () => {
      const { ctx, cluster, audit } = suite;
      const net = proxy!;
      const viaProxy: Record<string, string> = { DATABASE_URL: net.rewrite(ctx.env.DATABASE_URL!) };
      if (ctx.env.INVOICES_DATABASE_URL) viaProxy.INVOICES_DATABASE_URL = net.rewrite(ctx.env.INVOICES_DATABASE_URL);
      expect(viaProxy.DATABASE_URL).not.toBe(ctx.env.DATABASE_URL);
      await cluster.startMany([
        ['api', viaProxy],
        ['relay', viaProxy],
        ['worker', viaProxy],
      ]);
      // Jobs done so far, read from Postgres directly (not through the proxy): the pipeline's progress.
      const done = async () => (await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM processed_messages`)[0]!.n;
      // A failed wait says what the roles logged last and what their connections were doing.
      const explain = async (err: unknown): Promise<never> => {
        const activity = await ctx.sql`
          SELECT state, wait_event, left(query, 60) AS query, count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1, 2, 3 ORDER BY n DESC`.catch(() => []);
        throw new Error(`${(err as Error).message}\nproxy: ${JSON.stringify(net.stats())}\nconnections: ${JSON.stringify(activity)}\n${cluster.describe()}`);
      };
      const moving = async (what: string) => {
        const from = await done();
        await waitFor(`jobs to be done again ${what}`, async () => (await done()) >= from + 10, 30_000).catch(explain);
      };
      const drive = driveUntilStopped(() => cluster.apiUrls());
      const { slowAt, slowUntil, lossy, healedAt } = await runNetworkFaults(net, {
        moving,
        sent: () => drive.sent(),
        rate: RATE,
        latency: LATENCY,
        loss: LOSS,
        holdMs: HOLD_MS,
        partitionMs: PARTITION_MS,
      });
      // The API takes orders again: plain orders placed after the heal are accepted.
      await waitFor('orders placed after the heal to be accepted', () => drive.acceptedSince(healedAt) >= RATE / 2, 30_000).catch(explain);

      const { plain, keyed } = await drive.stop();
      const plainAttempts = plain.flatMap((o) => o.attempts);
      const keyedAttempts = keyed.flatMap((o) => o.attempts);
      const all = [...plainAttempts, ...keyedAttempts];
      const unavailable = all.filter((a) => a.status === 503);
      const slowOrders = latencySummary((await drive.plainAttemptsBetween(slowAt, slowUntil - 1000)).map((a) => a.ms));
      console.info(
        `plain ${JSON.stringify(countStatuses(plainAttempts))}, keyed ${JSON.stringify(countStatuses(keyedAttempts))}; latency (ms) of every answer ${JSON.stringify(latencySummary(all.map((a) => a.ms)))}, of the 503s ${JSON.stringify(latencySummary(unavailable.map((a) => a.ms)))}, on the slow network ${JSON.stringify(slowOrders)}`,
      );
      console.info(`proxy over the run: ${JSON.stringify(net.stats())}; loss phase ${JSON.stringify(lossy)}`);
      // Every request was answered, with 201 or 503 (a careful client's retry may also hear 409:
      // its first attempt still holds the key), and none later than the API's own request timeout
      // (plus a margin for a loaded machine): the partitions made 503s, never a hang.
      expect(Object.keys(countStatuses(plainAttempts)).sort()).toEqual(['201', '503']);
      expect(['201', '409', '503']).toEqual(expect.arrayContaining(Object.keys(countStatuses(keyedAttempts))));
      expect(unavailable.length).toBeGreaterThan(0);
      const bound = REQUEST_TIMEOUT_MS + scaled(1500);
      expect(all.filter((a) => a.ms > bound)).toEqual([]);
      // The API's queries waited on the slow network: its traffic went through the proxy.
      expect(slowOrders.n).toBeGreaterThan(0);
      expect(slowOrders.p50).toBeGreaterThanOrEqual(2 * LATENCY.latencyMs);
      // Careful clients who started after the last heal all got their orders. One that ran out of
      // attempts during the faults (the API overloaded by the slow network) may have none.
      const keyedAfterHeal = await drive.keyedSince(healedAt);
      expect(keyedAfterHeal.length).toBeGreaterThan(0);
      expect(keyedAfterHeal.filter((o) => !o.id).map((o) => o.attempts)).toEqual([]);

      const report = await settle(ctx, audit.queues, scaled(60_000));
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      // Every order the database holds settles once: those answered 201, and those answered 503
      // whose commit got through anyway (a plain request answered 503 is ambiguous).
      const stored = (await ctx.sql<{ id: string }[]>`SELECT id FROM orders`).map((o) => o.id);
      const accepted = [...plain, ...keyed].flatMap((o) => (o.id ? [o.id] : []));
      expect(stored).toEqual(expect.arrayContaining(accepted));
      console.info(`orders stored ${stored.length}, acknowledged with 201 ${accepted.length}`);
      expect(await notExactlyOnce(ctx, stored)).toEqual([]);
      // A careful client that gave up after its attempts can still have its order only when the
      // COMMIT of one attempt was already on the wire as its budget ran out and the partition held
      // it (src/api/idempotency.ts rolls back anything else past the budget, pool wait and network
      // included). Such an order is never lost to its client: its key holds the 201, so one more
      // retry with the key replays it.
      const gaveUp = keyed.filter((o) => !o.id).map((o) => o.customer);
      const storedAnyway = await ctx.sql<{ customer_name: string; response_status: number | null }[]>`
        SELECT o.customer_name, k.response_status FROM orders o
        LEFT JOIN idempotency_keys k ON k.response_body->>'id' = o.id::text
        WHERE o.customer_name = ANY(${gaveUp})`;
      console.info(`careful clients that gave up ${gaveUp.length}, of whom the order was stored anyway ${storedAnyway.length}`);
      expect(storedAnyway.filter((o) => o.response_status !== 201)).toEqual([]);
      // Retries with a key never made a second order: one order per careful client at most.
      const doubled = await ctx.sql`
        SELECT customer_name, count(*)::int AS n FROM orders WHERE customer_name LIKE 'Keyed %' GROUP BY customer_name HAVING count(*) > 1`;
      expect(doubled).toEqual([]);
      // A network fault is an outage, not bad rows: no attempt spent on any row, nothing dead.
      const [rows] = await ctx.sql<{ attempted: number; dead: number }[]>`
        SELECT count(*) FILTER (WHERE attempts > 0)::int AS attempted, count(*) FILTER (WHERE dead_at IS NOT NULL)::int AS dead FROM outbox`;
      expect(rows).toEqual({ attempted: 0, dead: 0 });
      // Nobody restarted a process: every role came back by itself.
      expect(cluster.crashes(), cluster.describe()).toBe(0);
      // And every role still stops cleanly within its grace period after the partitions.
      expect(await cluster.sigtermAllUnclean()).toEqual([]);
    },
    scaled(150_000),
  );
});
