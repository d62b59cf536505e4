// Events are signed by the relay that publishes them, so a consumer that cannot read the
// producer's outbox (another service, its own database) can still tell a real event from a job
// someone added or edited through Redis or the dashboard. The HMAC covers what a consumer acts on:
// the event's id, type, aggregate and payload (headers carry only trace context).
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedFields {
  outboxId: string;
  eventType: string;
  aggregateType?: string | undefined;
  aggregateId: string;
  payload: unknown;
}

export interface Signer {
  sign(event: SignedFields): string;
  // Why the signature does not hold, or undefined when it does.
  problem(event: SignedFields, signature: unknown): string | undefined;
}

// `keys[0]` signs; any of them verifies, so a key can be rotated without failing jobs in flight.
export function createSigner(keys: readonly string[]): Signer {
  if (keys.length === 0) throw new Error('no signing key');
  const mac = (key: string, e: SignedFields) =>
    createHmac('sha256', key)
      // One JSON array, so no field can run into the next. JSON.stringify is stable here: the
      // payload is signed as the relay read it, and a job's data is a JSON round trip of it,
      // which keeps key order.
      .update(JSON.stringify([e.outboxId, e.eventType, e.aggregateType ?? '', e.aggregateId, e.payload ?? null]))
      .digest();
  return {
    sign: (e) => mac(keys[0]!, e).toString('base64url'),
    problem(e, signature) {
      if (typeof signature !== 'string' || signature === '') return 'the job carries no signature: jobs must be added by the relay';
      const given = Buffer.from(signature, 'base64url');
      const matches = keys.some((key) => {
        const expected = mac(key, e);
        return given.length === expected.length && timingSafeEqual(given, expected);
      });
      return matches ? undefined : 'the signature does not match the event: the job was edited or forged';
    },
  };
}
