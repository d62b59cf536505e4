// What every processor does around its own step: find the event the job names in the database
// (never trust the job), and on the final failed attempt let the step record its failed state.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { isConnectionError, type Db, type Sql } from '../db/client.ts';
import { transitionOrder, type OrderStatus } from '../db/orders.ts';
import { insertEvent } from '../db/outbox.ts';
import { loadStepInput, type NextEvent } from '../db/steps.ts';
import { routeFor, type EventType, type OutboxJobData } from '../events/routing.ts';
import { currentTraceparent, newTraceparent } from '../tracing.ts';

export interface Message {
  id: string;
  orderId: string;
  eventType: string;
  headers: Record<string, string>;
}


export interface StepResult {
  outcome: 'done' | 'duplicate' | 'skipped';
  detail?: string;
  emitted?: EventType; // the next event the step wrote, if any
}

// Only an event routed to a queue has work for the relay: a wake-up for the others (an invoice,
// order.delivered) would cost an empty claim, a transaction that finds nothing.
export function wakesRelay(result: StepResult): boolean {
  return result.outcome === 'done' && result.emitted !== undefined && (routeFor(result.emitted)?.length ?? 0) > 0;
}

// What a step works from: the event and order as the database knows them, never as the job says.
export interface Step extends Message {
  order: { status: OrderStatus; totalCents: number; createdAt: Date; paidCents: number | null; invoiced: boolean };
  processed: boolean; // this consumer's inbox already has the event
}

// Loads the event a job names, its order and what `consumer` did with it, in one statement.
export async function loadStep(sql: Sql, job: Job<OutboxJobData>, expectedType: string, consumer: string): Promise<Step> {
  const id = job.data?.outboxId ?? job.id;
  if (typeof id !== 'string' || !UUID.test(id)) {
    throw new UnrecoverableError(`job ${job.id} names no outbox event; jobs must be added by the relay`);
  }
  const row = await loadStepInput(sql, id, consumer);
  if (!row) throw new UnrecoverableError(`no outbox event ${id}: the job was not added by the relay`);
  if (row.event_type !== expectedType) throw new UnrecoverableError(`outbox event ${id} is ${row.event_type}, not ${expectedType}`);
  if (!row.order_id) throw new UnrecoverableError(`outbox event ${id} names an order that does not exist`);
  return {
    id: row.event_id,
    orderId: row.order_id,
    eventType: row.event_type,
    headers: row.headers ?? {},
    processed: row.processed,
    order: { status: row.status!, totalCents: row.total_cents!, createdAt: row.created_at!, paidCents: row.paid_cents, invoiced: row.invoiced },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// The next event of an order, carrying the trace headers on.
export function nextEvent(message: Message, type: EventType, payload: Record<string, unknown>): NextEvent {
  return {
    id: randomUUID(),
    type,
    payload: { order_id: message.orderId, ...payload },
    headers: { ...message.headers, traceparent: currentTraceparent(message.headers.traceparent ?? newTraceparent()) },
  };
}

export function isFinalAttempt(job: Job, err: unknown): boolean {
  // Postgres unreachable is never the last word on an order: the job is put back without spending
  // an attempt (src/workers/workers.ts), so its failure must not be recorded either.
  if (isConnectionError(err)) return false;
  // attemptsMade counts the attempts that already failed, not the one running now.
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

// Runs a step; when it fails for the last time, `onGiveUp` records the failure in the database
// before the job moves to the failed set (where an operator can retry it from Bull Board).
export async function runStep(
  job: Job<OutboxJobData>,
  step: () => Promise<StepResult>,
  onGiveUp?: (err: unknown) => Promise<void>,
): Promise<StepResult> {
  try {
    return await step();
  } catch (err) {
    if (onGiveUp && isFinalAttempt(job, err)) await onGiveUp(err);
    throw err;
  }
}

// Emits the next event of an order in the caller's transaction.
export function emitOrderEvent(db: Db, message: Message, eventType: EventType, payload: Record<string, unknown>): Promise<void> {
  const event = nextEvent(message, eventType, payload);
  return insertEvent(db, { id: event.id, aggregateType: 'order', aggregateId: message.orderId, eventType, payload: event.payload, headers: event.headers });
}

// Moves the order to its failed status and emits the failure event, once (the status guard
// makes a second call a no-op).
export async function recordOrderFailure(
  sql: Sql,
  message: Message,
  transition: { from: readonly OrderStatus[]; to: OrderStatus; eventType: EventType },
  err: unknown,
): Promise<void> {
  await sql.begin(async (tx) => {
    if (!(await transitionOrder(tx, message.orderId, transition.from, transition.to))) return;
    await emitOrderEvent(tx, message, transition.eventType, { reason: err instanceof Error ? err.message : String(err) });
  });
}
