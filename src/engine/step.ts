// One delivery of an event to a consumer: what the handler is given, and the two ways it records
// its effect. Either way the inbox row (processed_messages), the effect and the next events commit
// together, so a second delivery of the event is absorbed.
//   record():      one statement built from the handler's CTEs, the inbox CTE and the outbox
//                  inserts: one round trip, the fast path.
//   transaction(): a postgres.js transaction for effects that need several statements or reads.
import type { Db, Fragment, Sql, TxSql } from '../db/client.ts';
import { eventInsert, newEvent, type EventHeaders, type NewEvent } from './events.ts';

export interface ConsumedEvent<E extends string = string> {
  id: string;
  type: E;
  aggregateType: string;
  aggregateId: string;
  payload: Record<string, unknown>;
  headers: EventHeaders;
}

export interface StepResult {
  outcome: 'done' | 'duplicate' | 'skipped';
  detail?: string;
}

// A CTE of a recorded step: its name and its statement. Effects must depend on the inbox CTE
// (`… WHERE EXISTS (SELECT 1 FROM inbox)` or `FROM inbox`), so a duplicate writes nothing.
export type Cte = readonly [name: string, statement: Fragment];

export interface RecordedStep {
  effects: readonly Cte[];
  // Next events, each written only when the CTE named by `when` has rows (and the inbox is fresh).
  emit?: ReadonlyArray<{ event: NewEvent; when?: string }>;
  // Extra result columns, e.g. db`EXISTS (SELECT 1 FROM moved) AS moved`.
  select?: Fragment;
}

export interface Step<E extends string = string, C = unknown> {
  event: ConsumedEvent<E>;
  // The row the consumer's `context` query returned for this event, or null.
  context: C | null;
  db: Sql;
  attemptsMade: number;
  // The next event of the same aggregate (or another), carrying this event's trace headers on.
  next<N extends string>(type: N, payload: Record<string, unknown>, aggregate?: { type: string; id: string }): NewEvent<N>;
  record<R extends object = Record<string, never>>(step: RecordedStep): Promise<{ fresh: boolean } & R>;
  // `fn` runs after the inbox row is inserted; `emit` queues events written before the commit.
  // Resolves { fresh: false } without calling `fn` when the inbox already had the event.
  transaction<T>(fn: (tx: TxSql, emit: (event: NewEvent) => void) => Promise<T>): Promise<{ fresh: true; value: T } | { fresh: false }>;
  // Writes an event in the caller's transaction, with no inbox row (a give-up hook's failure event);
  // the relay is woken once the hook has returned, after its commit.
  insertEvent(db: Db, event: NewEvent): Promise<void>;
}

export type Trust = 'outbox' | 'signature';

// The recorded step as one statement: inbox, the handler's CTEs, the next events, the result.
export function recordedStatement(db: Db, consumer: string, messageId: string, step: RecordedStep): Fragment {
  const effects = step.effects.map(([name, statement]) => db`, ${db(name)} AS (${statement})`);
  const emits = (step.emit ?? []).map(({ event, when }, i) => {
    const condition = when ? db`EXISTS (SELECT 1 FROM inbox) AND EXISTS (SELECT 1 FROM ${db(when)})` : db`EXISTS (SELECT 1 FROM inbox)`;
    return db`, ${db(`emit_${i}`)} AS (${eventInsert(db, event, condition)})`;
  });
  // postgres.js joins an array of fragments, but sends an empty array as a parameter.
  const list = (fragments: Fragment[]) => (fragments.length > 0 ? fragments : db``);
  return db`
    WITH inbox AS (
      INSERT INTO processed_messages (consumer, message_id) VALUES (${consumer}, ${messageId})
      ON CONFLICT DO NOTHING RETURNING message_id
    ) ${list(effects)} ${list(emits)}
    SELECT EXISTS (SELECT 1 FROM inbox) AS fresh ${step.select ? db`, ${step.select}` : db``}`;
}

// Runs a recorded step's statement and resolves with its one row: alone, or with the statements of
// the steps recorded at the same moment in one transaction (engine/group-commit.ts).
export type RunRecorded = (statement: { fragment: Fragment }) => Promise<Record<string, unknown>>;

export function createStep<E extends string, C>(
  sql: Sql,
  consumer: string,
  loaded: { event: ConsumedEvent; context: unknown },
  attemptsMade: number,
  hooks: { runRecorded: RunRecorded; onEmitted: (types: readonly string[]) => void },
): { step: Step<E, C>; wakeForInserted: () => void } {
  const { onEmitted } = hooks;
  const { event } = loaded;
  const inserted: string[] = [];
  const step: Step<E, C> = {
    event: event as ConsumedEvent<E>,
    context: (loaded.context ?? null) as C | null,
    db: sql,
    attemptsMade,
    next: (type, payload, aggregate = { type: event.aggregateType, id: event.aggregateId }) => newEvent(type, aggregate, payload, event.headers),
    async record<R extends object>(step: RecordedStep) {
      const row = await hooks.runRecorded({ fragment: recordedStatement(sql, consumer, event.id, step) });
      const result = row as { fresh: boolean } & R;
      if (result.fresh) onEmitted((step.emit ?? []).map((e) => e.event.type));
      return result;
    },
    async transaction(fn) {
      const emitted: NewEvent[] = [];
      const result = await sql.begin(async (tx) => {
        const [fresh] = await tx`
          INSERT INTO processed_messages (consumer, message_id) VALUES (${consumer}, ${event.id})
          ON CONFLICT DO NOTHING RETURNING message_id`;
        if (!fresh) return { fresh: false as const };
        const value = await fn(tx, (e) => void emitted.push(e));
        for (const e of emitted) await eventInsert(tx, e);
        return { fresh: true as const, value };
      });
      if (result.fresh) onEmitted(emitted.map((e) => e.type));
      return result;
    },
    insertEvent: async (db, e) => {
      await eventInsert(db, e);
      inserted.push(e.type);
    },
  };
  return { step, wakeForInserted: () => onEmitted(inserted.splice(0)) };
}
