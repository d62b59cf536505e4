// The headers stored with the events an HTTP request causes: its trace context and correlation id.
import { randomUUID } from 'node:crypto';
import type { EventHeaders } from '../engine/index.ts';
import { currentTraceparent, newTraceparent, validTraceparent } from '../tracing.ts';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function eventHeadersFor(traceparent: string | undefined, requestId: string | undefined): EventHeaders {
  return {
    traceparent: currentTraceparent(validTraceparent(traceparent) ?? newTraceparent()),
    correlation_id: requestId && REQUEST_ID.test(requestId) ? requestId : randomUUID(),
  };
}
