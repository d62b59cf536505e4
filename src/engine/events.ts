// Writing events into the outbox, inside the caller's own transaction or statement. The relay
// decides where a row goes when it publishes it, with the routes of the version it runs: nothing is
// settled at write time, so a route added in a later deploy (or written by an older worker during a
// rolling deploy) still reaches the rows that are not published yet.
import { randomUUID } from 'node:crypto';
import { asJson, type Db, type Fragment } from '../db/client.ts';
import { currentTraceparent, newTraceparent } from '../tracing.ts';

export interface EventHeaders {
  traceparent?: string;
  correlation_id?: string;
  [key: string]: string | undefined;
}

export interface NewEvent<E extends string = string> {
  id: string;
  type: E;
  aggregateType: string;
  aggregateId: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
}

// What a BullMQ job carries. A job can be forged or edited by anyone with Redis or dashboard
// access: consumers either re-read the event from the outbox (same database) or check `signature`,
// the producer's HMAC over the event (see signing.ts).
export interface OutboxJobData {
  outboxId: string;
  eventType: string;
  aggregateType?: string;
  aggregateId: string;
  payload: unknown;
  headers: EventHeaders;
  signature?: string;
}

// Only string headers are stored (a header map from a request may carry undefined entries).
export function storedHeaders(headers: EventHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

// A new event, carrying the trace context of the work that causes it (the active span's when an
// OpenTelemetry SDK records one, else the parent's traceparent, else a new one).
export function newEvent<E extends string>(type: E, aggregate: { type: string; id: string }, payload: Record<string, unknown>, parentHeaders: EventHeaders = {}): NewEvent<E> {
  const headers = storedHeaders(parentHeaders);
  headers.traceparent = currentTraceparent(headers.traceparent ?? newTraceparent());
  return { id: randomUUID(), type, aggregateType: aggregate.type, aggregateId: aggregate.id, payload, headers };
}

// The outbox insert as a fragment, to be one CTE of a larger statement (the API's order insert, a
// consumer's step): `when` makes it conditional on another CTE of that statement having rows, for
// example `EXISTS (SELECT 1 FROM moved)`. Columns not named take their defaults.
export function eventInsert(db: Db, event: NewEvent, when?: Fragment): Fragment {
  // Two templates rather than an empty fragment for "no condition": each fragment is an object
  // postgres.js builds and stringifies per statement, on the API's hot path.
  if (when) {
    return db`
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers)
      SELECT ${event.id}, ${event.aggregateType}, ${event.aggregateId}, ${event.type}, ${asJson(db, event.payload)}, ${db.json(event.headers)}
      WHERE ${when}
      RETURNING id`;
  }
  return db`
    INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers)
    VALUES (${event.id}, ${event.aggregateType}, ${event.aggregateId}, ${event.type}, ${asJson(db, event.payload)}, ${db.json(event.headers)})
    RETURNING id`;
}

// Writes one event in the caller's transaction (or as a statement of its own).
export async function insertEvent(db: Db, event: NewEvent): Promise<void> {
  await eventInsert(db, event);
}
