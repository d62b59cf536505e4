// The setup every fault test file shares, as one call at the top of the file:
//
//   const suite = faultSuite({ env: { RELAY_BATCH_SIZE: '25' }, cluster: { maxCrashes: 30 } });
//   it('…', async () => { const { ctx, cluster, audit } = suite; … });
//
// It registers the file's beforeAll (a server of the file's own if asked for, the test context,
// the test's view of the queues, the role cluster, the roles to start) and its afterAll: the
// cluster closed, every tracked process killed, the queues closed, the context cleaned up, the
// server stopped, in that order, each step run whatever happened to the ones before it.
import { afterAll, beforeAll } from 'vitest';
import { createTestContext, type TestContext } from '../../support/context.ts';
import { RoleCluster, type ClusterOptions } from './cluster.ts';
import { faultEnv } from './env.ts';
import { startPrivatePostgres, type PrivatePostgres, type PrivatePostgresOptions } from './private-postgres.ts';
import { startPrivateRedis, type PrivateRedis, type PrivateRedisOptions } from './private-redis.ts';
import { openQueues, type AuditQueues } from './settle.ts';
import { killAllTracked } from './tracked.ts';

type Servers = NonNullable<Parameters<typeof createTestContext>[1]>;

// A Redis or Postgres of the file's own: started before the context, stopped after its cleanup.
export interface PrivateServer<S> {
  start(): Promise<S>;
  // Where the context puts its database or its keys.
  servers(server: S): Servers;
  // Once the context exists, before the queues and the cluster.
  prepare?(server: S, ctx: TestContext): void;
  // Runs the context's cleanup (with the server up again, if a test left it down).
  cleanup(server: S, cleanup: () => Promise<void>): Promise<void>;
  stop(server: S): Promise<void>;
}

export function privateRedis(options: PrivateRedisOptions): PrivateServer<PrivateRedis> {
  return {
    start: () => startPrivateRedis(options),
    servers: (redis) => ({ redisUrl: redis.url }),
    prepare(_redis, ctx) {
      ctx.redis.on('error', () => {}); // the context's own connection sees the outages too
    },
    async cleanup(redis, cleanup) {
      if (!redis.running()) await redis.start().catch(() => {}); // so cleanup can remove the test's keys
      await cleanup();
    },
    stop: (redis) => redis.stop(),
  };
}

export function privatePostgres(options: PrivatePostgresOptions = {}): PrivateServer<PrivatePostgres> {
  return {
    start: () => startPrivatePostgres(options),
    servers: (pg) => ({ databaseUrl: pg.url }),
    async cleanup(pg, cleanup) {
      if (!pg.running()) await pg.start().catch(() => {}); // so cleanup can drop the database
      // Whatever it leaves behind lives in the server's directory, which stop() removes.
      await cleanup().catch(() => {});
    },
    stop: (pg) => pg.destroy(),
  };
}

export interface FaultSuiteOptions<S> {
  // The context's env over its defaults (createTestContext's first argument).
  overrides?: Record<string, string>;
  // Where the context puts its databases and keys (createTestContext's second argument).
  servers?: Servers;
  // A server of the file's own; the context is put on it, and the tests get it as suite.server.
  server?: PrivateServer<S>;
  // The role processes' env over faultEnv's.
  env?: Record<string, string>;
  cluster?: ClusterOptions;
  // Roles started in beforeAll, shared by every test of the file.
  start?: Parameters<RoleCluster['startMany']>[0];
}

export interface FaultSuite<S> {
  readonly ctx: TestContext;
  readonly cluster: RoleCluster;
  readonly audit: AuditQueues;
  readonly server: S;
}

export function faultSuite<S = undefined>(options: FaultSuiteOptions<S> = {}): FaultSuite<S> {
  const spec = options.server;
  let server: S | undefined;
  let ctx: TestContext | undefined;
  let audit: AuditQueues | undefined;
  let cluster: RoleCluster | undefined;

  beforeAll(async () => {
    if (spec) server = await spec.start();
    ctx = await createTestContext(options.overrides, { ...options.servers, ...(spec ? spec.servers(server as S) : {}) });
    spec?.prepare?.(server as S, ctx);
    audit = openQueues(ctx);
    cluster = new RoleCluster(faultEnv(ctx, options.env), options.cluster);
    if (options.start) await cluster.startMany(options.start);
  });

  afterAll(async () => {
    const failures: Error[] = [];
    const step = async (what: string, run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (err) {
        failures.push(new Error(`fault suite teardown: ${what} failed`, { cause: err }));
      }
    };
    if (cluster) await step('closing the cluster', () => cluster!.close());
    await step('killing the tracked processes', () => killAllTracked());
    if (audit) await step('closing the queues', () => audit!.close());
    if (ctx) await step('cleaning up the context', () => (spec ? spec.cleanup(server as S, () => ctx!.cleanup()) : ctx!.cleanup()));
    if (spec && server !== undefined) await step('stopping the server', () => spec.stop(server as S));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `fault suite teardown: ${failures.length} steps failed`);
  });

  const ready = <T>(what: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`faultSuite: ${what} is not set up (use it inside a test, once beforeAll has run; did beforeAll fail?)`);
    return value;
  };
  return {
    get ctx() {
      return ready('ctx', ctx);
    },
    get cluster() {
      return ready('cluster', cluster);
    },
    get audit() {
      return ready('audit', audit);
    },
    get server() {
      if (!spec) throw new Error('faultSuite: this suite has no server of its own (options.server)');
      return ready('server', server);
    },
  };
}
