// W3C trace context for the events an HTTP request causes: the incoming `traceparent` when it is
// valid, else a new one, so one trace id follows an order through relay and workers.
import { randomBytes, randomUUID } from 'node:crypto';
import type { EventHeaders } from '../events/routing.ts';

const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

export function eventHeadersFor(traceparent: string | undefined, requestId: string | undefined): EventHeaders {
  return {
    traceparent: traceparent && TRACEPARENT.test(traceparent) ? traceparent : newTraceparent(),
    correlation_id: requestId && REQUEST_ID.test(requestId) ? requestId : randomUUID(),
  };
}

export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.split('-')[1];
}
