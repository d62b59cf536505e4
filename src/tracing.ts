// Trace context across the outbox, on @opentelemetry/api. When the user registers an OpenTelemetry
// SDK, spans are real and the traceparent stored with each event is the active span's; without one
// (the default: no collector needed) the incoming or generated traceparent is carried as it is, so
// one trace id still follows an order from the HTTP request through relay, payment, delivery and
// invoice, and the next events they cause.
//
// The spans follow the semantic conventions (HTTP server, messaging): a SERVER span per request
// (src/api/middleware/server-span.ts), a PRODUCER `create <queue>` span per job the relay adds and
// a `send <queue>` span per addBulk (src/relay/publish.ts, through traceBatch below), and a
// CONSUMER `process <queue>` span per job (src/engine/consumers.ts).
import { randomFillSync } from 'node:crypto';
import { type Attributes, context, type Link, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';

const tracer = trace.getTracer('pizza-outbox');
const TRACEPARENT = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

// One trace id and span id (24 random bytes) per order: taken from a pool refilled 256 ids at a
// time, because a randomBytes call per id was 3 % of the API's CPU.
const ID_BYTES = 24;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

export function newTraceparent(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const at = idOffset;
  idOffset += ID_BYTES;
  return `00-${idPool.toString('hex', at, at + 16)}-${idPool.toString('hex', at + 16, at + ID_BYTES)}-01`;
}

export function validTraceparent(value: string | undefined): string | undefined {
  return value && TRACEPARENT.test(value) ? value : undefined;
}

export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
}

// The traceparent to store with an event written now: the active span's when an SDK records one,
// otherwise `fallback` (the incoming request's or the consumed event's).
export function currentTraceparent(fallback: string): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return validTraceparent(carrier.traceparent) ?? fallback;
}

export type SpanRole = 'server' | 'consumer';

// Runs `fn` in a span whose parent comes from W3C headers (an HTTP request's or an event's). A
// throw marks the span as an error; `fn` gets the span to add what it learns (the route, a status).
export async function inSpan<T>(name: string, kind: SpanRole, parentHeaders: TraceHeaders, fn: (span: Span) => Promise<T>, attributes?: Attributes): Promise<T> {
  const parent: Context = propagation.extract(ROOT_CONTEXT, parentHeaders);
  const options = { kind: kind === 'server' ? SpanKind.SERVER : SpanKind.CONSUMER, ...(attributes && { attributes }) };
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      markError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

export function markError(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, ...(err instanceof Error && { message: err.message }) });
  span.setAttribute('error.type', err instanceof Error ? err.name : 'Error');
}

export const MESSAGING_SYSTEM = 'bullmq';

// The attributes of a consumer's `process <queue>` span (semantic conventions for messaging).
export function consumerSpanAttributes(queue: string, jobId: string | undefined): Attributes {
  return {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.destination.name': queue,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    ...(jobId !== undefined && { 'messaging.message.id': jobId }),
  };
}

// W3C trace headers as stored with an event (entries may be missing).
export type TraceHeaders = Record<string, string | undefined>;

export interface TracedMessage<H extends TraceHeaders> {
  id: string;
  headers: H;
}

export interface TracedBatch<H extends TraceHeaders> {
  // The headers to send with message i: its `create` span's context, or its own headers when no
  // SDK records the span (then nothing changes, and no object is copied).
  headers: H[];
  // Marks message i as failed (it stays unpublished and is retried later).
  fail(i: number, error: string): void;
  // Runs the send (addBulk) inside the batch's `send` span and ends every span of the batch.
  send<T>(fn: () => Promise<T>): Promise<T>;
}

// The relay's spans for one batch added to one queue, as the messaging conventions lay out a batch
// send: a PRODUCER `create <queue>` span per message, child of the context stored with its outbox
// row (the request's or the step's span), whose context goes into the job so the consumer's
// `process` span is its child; and one `send <queue>` span for the addBulk, linked to every
// `create` span (a batch carries the messages of many traces, so links, not parents). The
// `create` span lasts from the relay's hand-off to the acknowledgement, so the relay's share of an
// order's time shows in the order's own trace.
export function traceBatch<H extends TraceHeaders>(queue: string, messages: ReadonlyArray<TracedMessage<H>>): TracedBatch<H> {
  const base = { 'messaging.system': MESSAGING_SYSTEM, 'messaging.destination.name': queue };
  const creates = messages.map((m) =>
    tracer.startSpan(
      `create ${queue}`,
      { kind: SpanKind.PRODUCER, attributes: { ...base, 'messaging.operation.type': 'create', 'messaging.operation.name': 'create', 'messaging.message.id': m.id } },
      propagation.extract(ROOT_CONTEXT, m.headers),
    ),
  );
  const headers = messages.map((m, i) => {
    const span = creates[i]!;
    if (!span.isRecording()) return m.headers;
    const carrier = { ...m.headers };
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
    return carrier;
  });
  return {
    headers,
    fail(i, error) {
      creates[i]?.setStatus({ code: SpanStatusCode.ERROR, message: error });
      creates[i]?.setAttribute('error.type', 'publish_failed');
    },
    async send(fn) {
      const links: Link[] = creates.filter((s) => s.isRecording()).map((s) => ({ context: s.spanContext() }));
      // CLIENT, not PRODUCER: with `create` spans, those are the messages' creation contexts.
      const attributes = { ...base, 'messaging.operation.type': 'send', 'messaging.operation.name': 'addBulk', 'messaging.batch.message_count': messages.length };
      const span = tracer.startSpan(`send ${queue}`, { kind: SpanKind.CLIENT, attributes, links }, ROOT_CONTEXT);
      try {
        return await context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
      } catch (err) {
        markError(span, err);
        for (const create of creates) markError(create, err);
        throw err;
      } finally {
        span.end();
        for (const create of creates) create.end();
      }
    },
  };
}
