import { describe, expect, it } from 'vitest';
import { wakesRelay } from './message.ts';

describe('wakesRelay', () => {
  it('wakes the relay only for a written event that is routed to a queue', () => {
    expect(wakesRelay({ outcome: 'done', emitted: 'order.paid' })).toBe(true);
    expect(wakesRelay({ outcome: 'done', emitted: 'order.delivered' })).toBe(false); // routed nowhere: written published
    expect(wakesRelay({ outcome: 'done' })).toBe(false); // an invoice writes no event
    expect(wakesRelay({ outcome: 'duplicate', emitted: 'order.paid' })).toBe(false);
  });
});
