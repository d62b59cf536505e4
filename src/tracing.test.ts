import { describe, expect, it } from 'vitest';
import { consumerSpanAttributes, newTraceparent, traceBatch, traceIdOf, validTraceparent } from './tracing.ts';

describe('newTraceparent', () => {
  it('gives valid, distinct W3C traceparents across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const tp = newTraceparent();
      expect(validTraceparent(tp)).toBe(tp);
      seen.add(traceIdOf(tp)!);
    }
    expect(seen.size).toBe(1000);
  });
});

describe('traceBatch without an SDK', () => {
  it('leaves every message its own headers (the same object: nothing is copied) and runs the send', async () => {
    const headers = { traceparent: newTraceparent() };
    const batch = traceBatch('payments', [{ id: 'a', headers }]);
    expect(batch.headers[0]).toBe(headers);
    await expect(batch.send(async () => 'sent')).resolves.toBe('sent');
    await expect(traceBatch('payments', []).send(() => Promise.reject(new Error('redis away')))).rejects.toThrow('redis away');
  });

  it('gives the consumer span the messaging attributes', () => {
    expect(consumerSpanAttributes('payments', '42')).toEqual({
      'messaging.system': 'bullmq',
      'messaging.destination.name': 'payments',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.message.id': '42',
    });
  });
});
