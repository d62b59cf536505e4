// The outbox engine's one public entry point. A service hands it its topology (events, routes,
// queues), its postgres.js pool and its settings; it writes events inside its own transactions and
// registers consumers. The engine does the rest alike for every service: the relay, the reconciler,
// retention of its tables, signing, the inbox, retries, give-up hooks, the outage rules, the relay
// wake-up, dead rows and replay, and the metrics. It knows nothing of any service's domain.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Db, Fragment, Sql } from '../db/client.ts';
import { createConsumerMetrics } from '../metrics/metrics.ts';
import { createOutboxOperations } from '../outbox-admin/operations.ts';
import { checkEvictionPolicy, createCommandConnection, waitUntilReady } from '../redis/connection.ts';
import { closeQueues, createQueues, type JobSettings } from '../redis/queues.ts';
import { createCoalescedNotifier, WAKE_CHANNEL } from '../relay/notifier.ts';
import { createRelayRole, type RelayRole, type RelaySettings } from '../relay/relay-role.ts';
import { createRetention, type PruneTask } from '../relay/retention.ts';
import { createConsumers, type Consumers, type ConsumerSettings, type ConsumerSpec } from './consumers.ts';
import { eventInsert, insertEvent, newEvent, type EventHeaders, type NewEvent } from './events.ts';
import { deferredSigner, storedSigningKey } from './signing-key.ts';
import type { Topology } from './topology.ts';
import { TlsRefusedError } from '../tls.ts';

export type { ConsumerSpec, Consumers } from './consumers.ts';
export { isFinalAttempt } from './consumers.ts';
export { createGroupCommit, DeadlinePassed, type GroupCommit } from './group-commit.ts';
export type { EventHeaders, NewEvent, OutboxJobData } from './events.ts';
export { storedHeaders } from './events.ts';
export type { PruneTask } from '../relay/retention.ts';
export type { RelayRole } from '../relay/relay-role.ts';
export type { ConsumedEvent, Cte, RecordedStep, Step, StepResult } from './step.ts';
export { defineTopology, type Topology } from './topology.ts';
export { isUuid } from './uuid.ts';
export type { Queues } from '../redis/queues.ts';
export type { OutboxOperations } from '../outbox-admin/operations.ts';

export interface EngineSettings extends RelaySettings, ConsumerSettings, JobSettings {
  REDIS_REQUIRE_NOEVICTION: boolean;
  // Comma-separated in the environment: the first signs, any verifies (for rotation).
  OUTBOX_SIGNING_KEY?: readonly string[] | undefined;
}

export interface EngineOptions<E extends string, Q extends string> {
  topology: Topology<E, Q>;
  sql: Sql;
  settings: EngineSettings;
  log: Logger;
  registry: Registry;
  // Consumer-only services (no relay in any of their processes) still wake the producer's relays.
  notifyMinGapMs?: number;
}

export function createOutboxEngine<E extends string, Q extends string>(options: EngineOptions<E, Q>) {
  const { topology, sql, settings, log, registry } = options;
  const redis = createCommandConnection(settings, log, 'outbox-commands');
  const queues = createQueues(redis, topology.queueNames, settings, (err) => log.debug({ err: err.message }, 'queue connection error'));
  const signer = deferredSigner();
  let relayRole: RelayRole | undefined;
  // Beside a relay, new events are handed off in-process; otherwise a coalesced NOTIFY after the
  // commit (never inside the transaction) wakes the relays elsewhere.
  const notifier = createCoalescedNotifier(
    () => sql.notify(WAKE_CHANNEL, ''),
    options.notifyMinGapMs ?? 5,
    (err) => log.debug({ err: (err as Error).message }, 'relay wake-up NOTIFY failed; relays will poll'),
  );
  const wakeRelay = () => (relayRole ? relayRole.wake() : notifier.poke());
  const checkType = (type: string) => {
    if (!topology.routeFor(type)) throw new TypeError(`event type "${type}" is not declared in the topology's routes`);
  };

  return {
    topology,
    queues,
    redis,
    // An event of this service, carrying the trace context of `parentHeaders` on.
    newEvent: (type: E, aggregate: { type: string; id: string }, payload: Record<string, unknown>, parentHeaders?: EventHeaders): NewEvent<E> =>
      newEvent(type, aggregate, payload, parentHeaders),
    // The outbox insert as a CTE for a statement of the service's own (one round trip).
    eventInsert(db: Db, event: NewEvent<E>, when?: Fragment): Fragment {
      checkType(event.type);
      return eventInsert(db, event, when);
    },
    // Writes an event in the caller's transaction; call wakeRelay() after the commit.
    insertEvent(db: Db, event: NewEvent<E>): Promise<void> {
      checkType(event.type);
      return insertEvent(db, event);
    },
    wakeRelay,
    // The relay of this service's outbox (claim → addBulk → mark), its reconciler and retention.
    relay(extra: { pruneTasks?: readonly PruneTask[] } = {}): RelayRole {
      relayRole ??= createRelayRole({ settings, topology, signer, log, sql, redis, queues, registry, pruneTasks: extra.pruneTasks });
      return relayRole;
    },
    // Retention of the engine's tables for a service that runs no relay (a consumer-only service
    // in its own database still has an inbox to prune).
    retention(): ReturnType<typeof createRetention> {
      return createRetention(sql, { outboxS: settings.OUTBOX_RETENTION_S, inboxS: settings.INBOX_RETENTION_S, intervalMs: settings.RETENTION_INTERVAL_MS }, log);
    },
    consumers(specs: ReadonlyArray<ConsumerSpec<E, Q>>): Consumers {
      const redisReady = () => redis.status === 'ready';
      return createConsumers(specs as readonly ConsumerSpec[], { sql, topology, settings, log, metrics: createConsumerMetrics(registry), signer, wakeRelay, redisReady });
    },
    operations: createOutboxOperations(sql, queues, topology, wakeRelay),
    // Loads the signing key and checks Redis; call before starting the relay or the consumers.
    async start(): Promise<void> {
      if (!signer.ready()) signer.resolve(settings.OUTBOX_SIGNING_KEY ?? [await storedSigningKey(sql)]);
      await checkRedis(redis, settings.REDIS_REQUIRE_NOEVICTION, log);
    },
    async stop(): Promise<void> {
      notifier.stop();
      await closeQueues(queues);
      redis.disconnect();
    },
  };
}

export type OutboxEngine<E extends string = string, Q extends string = string> = ReturnType<typeof createOutboxEngine<E, Q>>;

async function checkRedis(redis: ReturnType<typeof createCommandConnection>, required: boolean, log: Logger): Promise<void> {
  try {
    await waitUntilReady(redis, 3000);
  } catch (err) {
    if (err instanceof TlsRefusedError) throw err; // a refused certificate does not mend itself
    log.warn('Redis is not answering yet; events are still accepted into the outbox and will be published once it is back');
    redis.once('ready', () => void checkEvictionPolicy(redis, log, false));
    return;
  }
  await checkEvictionPolicy(redis, log, required);
}
