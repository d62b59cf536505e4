// What every processor does around its own step: find the event the job names in the database
// (never trust the job), and on the final failed attempt let the step record its failed state.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Db, Sql } from '../db/client.ts';
import { transitionOrder, type OrderStatus } from '../db/orders.ts';
import { findEvent, insertEvent } from '../db/outbox.ts';
import type { EventType, OutboxJobData } from '../events/routing.ts';
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
}

export async function loadMessage(sql: Sql, job: Job<OutboxJobData>, expectedType: string): Promise<Message> {
  const id = job.data?.outboxId ?? job.id;
  if (typeof id !== 'string' || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new UnrecoverableError(`job ${job.id} names no outbox event; jobs must be added by the relay`);
  }
  const event = await findEvent(sql, id);
  if (!event) throw new UnrecoverableError(`no outbox event ${id}: the job was not added by the relay`);
  if (event.event_type !== expectedType) {
    throw new UnrecoverableError(`outbox event ${id} is ${event.event_type}, not ${expectedType}`);
  }
  return { id: event.id, orderId: event.aggregate_id, eventType: event.event_type, headers: event.headers ?? {} };
}

export function isFinalAttempt(job: Job, err: unknown): boolean {
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

// Emits the next event of an order in the caller's transaction, carrying the trace headers on.
export function emitOrderEvent(db: Db, message: Message, eventType: EventType, payload: Record<string, unknown>): Promise<void> {
  return insertEvent(db, {
    id: randomUUID(),
    aggregateType: 'order',
    aggregateId: message.orderId,
    eventType,
    payload: { order_id: message.orderId, ...payload },
    headers: { ...message.headers, traceparent: currentTraceparent(message.headers.traceparent ?? newTraceparent()) },
  });
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
