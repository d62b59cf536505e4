// Fault: a slow, lossy and partitioned network between the roles and Redis (issue 14, scenario 2).
// Every role (api, relay, worker, as separate processes) reaches the test's own Redis only
// through a TCP proxy in the test (support/tcp-proxy.ts), which, while orders keep arriving, adds
// 25–100 ms each way (a round trip 50–200 ms longer), then stalls chunks (TCP retransmissions after
// a lost segment) and resets connections now and then, then blackholes the link for 3 s (nothing
// forwarded, sockets kept open: ioredis notices only through its own timeouts, and what was held is
// delivered at heal) and then partitions it for 3 s with resets (every connection reset, every
// reconnect refused: ioredis reconnects through the proxy after heal).
//
// The API reaches Redis on the order path here (the order rate limit is on, with a limit nobody
// reaches), and must keep answering 201 throughout: the limiter gives up on Redis after a second.
// Each phase checks that its fault happened (the proxy's counters) and, after each heal, that the
// roles' traffic goes through the proxy again and the pipeline moves; at the end the system
// settles with every effect exactly once, and the relay spent no row's attempts on the network.
// The test's own view (audit, settle) talks to Redis directly.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled, waitFor } from '../support/context.ts';
import { driveOrders, latencySummary, type Attempt, type Drive, type DriveResult } from './support/driver.ts';
import { faultSuite, privateRedis } from './support/fixture.ts';
import { NO_VIOLATIONS, notExactlyOnce, settle } from './support/settle.ts';
import { runNetworkFaults } from './support/network-faults.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const RATE = 20; // orders a second
const REQUEST_TIMEOUT_MS = 3000;
const LATENCY = { latencyMs: 25, jitterMs: 75 }; // each way
const LOSS = { stallProbability: 0.05, stallMs: 300, resetProbability: 0.01 };
const HOLD_MS = 4000; // latency, and loss, at least this long
const PARTITION_MS = 3000;

const suite = faultSuite({
  server: privateRedis({ persistent: false }),
  env: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), ORDER_RATE_LIMIT_PER_MINUTE: '1000000' },
});
let proxy: TcpProxy | undefined;
beforeAll(async () => {
  proxy = await startTcpProxy({ port: suite.server.port });
});
afterAll(async () => {
  await proxy?.close();
});

// Orders at RATE a second until stop(): one driveOrders run a second, so the drive lasts exactly
// as long as the phases do, however long the load makes them. `startedAt` of each run tells which
// phase its orders were placed in.
function driveUntilStopped(urls: () => string[]) {
  const runs: Array<{ startedAt: number; drive: Drive }> = [];
  let stopped = false;
  const loop = (async () => {
    for (let k = 0; !stopped; k++) {
      runs.push({ startedAt: Date.now(), drive: driveOrders({ urls, count: RATE, ratePerSec: RATE, name: `Net ${k}`, requestTimeoutMs: 15_000 }) });
      await sleep(1000);
    }
  })();
  return {
    sent: () => runs.reduce((n, r) => n + r.drive.sent(), 0),
    // The attempts of the runs started within [from, to).
    async attemptsBetween(from: number, to: number): Promise<Attempt[]> {
      const within = runs.filter((r) => r.startedAt >= from && r.startedAt < to);
      return (await Promise.all(within.map((r) => r.drive.done))).flatMap((r) => r.attempts);
    },
    async stop(): Promise<Pick<DriveResult, 'accepted' | 'attempts' | 'statuses'>> {
      stopped = true;
      await loop;
      const results = await Promise.all(runs.map((r) => r.drive.done));
      const attempts = results.flatMap((r) => r.attempts);
      const statuses: Record<string, number> = {};
      for (const a of attempts) statuses[String(a.status)] = (statuses[String(a.status)] ?? 0) + 1;
      return { accepted: results.flatMap((r) => r.accepted), attempts, statuses };
    },
  };
}

describe('a slow, lossy and partitioned network between the roles and Redis', () => {
  it(
    'keeps POST /orders answering 201, reconnects through the proxy after each partition, and settles exactly once',
    async () => {
      const { ctx, cluster, audit } = suite;
      const net = proxy!;
      const viaProxy = { REDIS_URL: net.rewrite(ctx.env.REDIS_URL!) };
      expect(viaProxy.REDIS_URL).not.toBe(ctx.env.REDIS_URL);
      await cluster.startMany([
        ['api', viaProxy],
        ['relay', viaProxy],
        ['worker', viaProxy],
      ]);
      // Jobs done so far, read from Postgres (not through the proxy): the pipeline's progress.
      const done = async () => (await ctx.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM processed_messages`)[0]!.n;
      // On failure with the roles' last log lines: they say what a role was stuck on.
      const moving = async (what: string) => {
        const from = await done();
        try {
          await waitFor(`jobs to be done again ${what}`, async () => (await done()) >= from + 10, 30_000);
        } catch (err) {
          throw new Error(`${(err as Error).message}\nproxy: ${JSON.stringify(net.stats())}\n${cluster.describe()}`);
        }
      };
      const drive = driveUntilStopped(() => cluster.apiUrls());
      const { slow, slowAt, slowUntil, lossy, afterCut } = await runNetworkFaults(net, {
        moving,
        sent: () => drive.sent(),
        rate: RATE,
        latency: LATENCY,
        loss: LOSS,
        holdMs: HOLD_MS,
        partitionMs: PARTITION_MS,
      });
      expect(slow.bytesUp).toBeGreaterThan(0);
      expect(afterCut.open).toBeGreaterThanOrEqual(3);

      const result = await drive.stop();
      const latency = latencySummary(result.attempts.map((a) => a.ms));
      const slowOrders = latencySummary((await drive.attemptsBetween(slowAt, slowUntil - 1000)).map((a) => a.ms));
      console.info(`statuses ${JSON.stringify(result.statuses)}; POST /orders latency (ms) ${JSON.stringify(latency)}, on the slow network ${JSON.stringify(slowOrders)}`);
      console.info(`proxy over the run: ${JSON.stringify(net.stats())}; loss phase ${JSON.stringify(lossy)}`);
      // Redis's trouble never reached the order path: every order answered 201, none as late as
      // the API's own request timeout (the rate limiter gives up on Redis after a second), give
      // or take a loaded machine's scheduling.
      expect(result.statuses).toEqual({ 201: result.attempts.length });
      expect(latency.max).toBeLessThan(REQUEST_TIMEOUT_MS + scaled(1500));
      // The API's rate limiter waited for Redis on the slow network: its traffic went through the proxy.
      expect(slowOrders.n).toBeGreaterThan(0);
      expect(slowOrders.p50).toBeGreaterThanOrEqual(2 * LATENCY.latencyMs);

      const report = await settle(ctx, audit.queues, scaled(60_000));
      expect(report.counts).toMatchObject({ ...NO_VIOLATIONS, stuck: 0 });
      expect(await notExactlyOnce(ctx, result.accepted)).toEqual([]);
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
