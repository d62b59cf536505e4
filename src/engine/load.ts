// The event a job stands for, as far as it can be trusted, with this consumer's inbox check and the
// handler's context. The jobs of one consumer that start together are loaded by one statement
// (engine/batch.ts): `WHERE e.id = ANY(…)`, each row correlated with its own inbox and context.
import { UnrecoverableError } from 'bullmq';
import { isConnectionError, type Db, type Fragment, type Sql } from '../db/client.ts';
import { createBatcher } from './batch.ts';
import type { EventHeaders, OutboxJobData } from './events.ts';
import type { Signer } from './signing.ts';
import type { ConsumedEvent, Trust } from './step.ts';
import { isUuid } from './uuid.ts';

export interface LoadSpec {
  consumer: string;
  trust: Trust;
  accepts: readonly string[];
  // A SELECT returning at most one row, correlated on `e` (e.id, e.aggregate_id).
  context?: ((db: Db) => Fragment) | undefined;
}

export interface LoadedEvent {
  event: ConsumedEvent;
  processed: boolean;
  context: unknown;
}

interface LoadedRow {
  event_id: string;
  event_type?: string;
  aggregate_type?: string;
  aggregate_id?: string;
  payload?: Record<string, unknown>;
  headers?: EventHeaders;
  processed: boolean;
  context: unknown;
}

// What one load asks for: the outbox id, and for a signed event the aggregate its context reads.
interface LoadKey {
  id: string;
  aggregateId?: string;
}

export const LOAD_BATCH = { maxBatch: 64, maxInFlight: 2, sharedFailure: isConnectionError };

export type EventLoader = (jobId: string | undefined, data: Partial<OutboxJobData> | undefined) => Promise<LoadedEvent>;

export function createEventLoader(sql: Sql, spec: LoadSpec, signer?: Signer, onBatch?: (size: number) => void): EventLoader {
  const fetchRows = async (keys: LoadKey[]): Promise<Array<LoadedRow | undefined>> => {
    const ids = keys.map((k) => k.id);
    const processed = sql`EXISTS (SELECT 1 FROM processed_messages m WHERE m.consumer = ${spec.consumer} AND m.message_id = e.id) AS processed`;
    const context = (db: Db) => (spec.context ? db`(SELECT to_json(ctx) FROM (${spec.context(db)}) ctx)` : db`NULL::json`);
    const rows =
      spec.trust === 'outbox'
        ? await sql<LoadedRow[]>`
            SELECT e.id AS event_id, e.event_type, e.aggregate_type, e.aggregate_id, e.payload, e.headers, ${processed}, ${context(sql)} AS context
            FROM outbox e WHERE e.id = ANY(${ids}::uuid[])`
        : await sql<LoadedRow[]>`
            SELECT e.id AS event_id, ${processed}, ${context(sql)} AS context
            FROM unnest(${ids}::uuid[], ${keys.map((k) => k.aggregateId!)}::uuid[]) AS e(id, aggregate_id)`;
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    return keys.map((k) => byId.get(k.id));
  };
  const fetchRow = createBatcher(fetchRows, async (key: LoadKey) => (await fetchRows([key]))[0], { ...LOAD_BATCH, onBatch });

  return async (jobId: string | undefined, data: Partial<OutboxJobData> | undefined): Promise<LoadedEvent> => {
    const id = data?.outboxId ?? jobId;
    if (!isUuid(id)) throw new UnrecoverableError(`job ${jobId} names no outbox event; jobs must be added by the relay`);
    let event: ConsumedEvent;
    let row: LoadedRow | undefined;
    if (spec.trust === 'outbox') {
      row = await fetchRow({ id });
      if (!row) throw new UnrecoverableError(`no outbox event ${id}: the job was not added by the relay`);
      event = { id, type: row.event_type!, aggregateType: row.aggregate_type!, aggregateId: row.aggregate_id!, payload: row.payload ?? {}, headers: row.headers ?? {} };
    } else {
      event = verifiedEvent(id, data, signer);
      row = await fetchRow({ id, aggregateId: event.aggregateId });
    }
    if (!spec.accepts.includes(event.type)) throw new UnrecoverableError(`outbox event ${id} is ${event.type}; this consumer takes ${spec.accepts.join(', ')}`);
    return { event, processed: row!.processed, context: row!.context };
  };
}

function verifiedEvent(id: string, data: Partial<OutboxJobData> | undefined, signer: Signer | undefined): ConsumedEvent {
  if (!signer) throw new Error('a consumer that trusts signatures needs the signing key (OUTBOX_SIGNING_KEY)');
  const fields = { outboxId: id, eventType: String(data?.eventType), aggregateType: data?.aggregateType, aggregateId: String(data?.aggregateId), payload: data?.payload };
  const problem = signer.problem(fields, data?.signature);
  if (problem) throw new UnrecoverableError(`event ${id} refused: ${problem}`);
  if (!isUuid(data?.aggregateId) || typeof data.payload !== 'object' || data.payload === null) {
    throw new UnrecoverableError(`event ${id} refused: it names no aggregate or carries no payload`);
  }
  const payload = data.payload as Record<string, unknown>;
  return { id, type: fields.eventType, aggregateType: data.aggregateType ?? '', aggregateId: data.aggregateId, payload, headers: data.headers ?? {} };
}
