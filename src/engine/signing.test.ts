// The relay's HMAC over an event, checked the way a consumer sees it: after the job data went
// through Redis (a JSON round trip).
import { describe, expect, it } from 'vitest';
import type { OutboxJobData } from './events.ts';
import { createSigner, type SignedFields } from './signing.ts';

const OLD_KEY = 'old-key-0123456789abcdef';
const NEW_KEY = 'new-key-fedcba9876543210';

function jobData(signer: ReturnType<typeof createSigner>): OutboxJobData {
  const data: OutboxJobData = {
    outboxId: '0b6a3c1e-2f4d-4a5b-9c6d-7e8f9a0b1c2d',
    eventType: 'x.made',
    aggregateType: 'thing',
    aggregateId: '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a',
    payload: { n: 1, nested: { list: [1, 'two', null], flag: true }, text: 'ünïcødé' },
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  };
  data.signature = signer.sign(data);
  return data;
}

// What BullMQ stores and hands the worker.
const throughRedis = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('createSigner', () => {
  it('refuses to be made without a key', () => {
    expect(() => createSigner([])).toThrow('no signing key');
  });

  it('verifies its own signature after a JSON round trip of the job data', () => {
    const signer = createSigner([NEW_KEY]);
    const received = throughRedis(jobData(signer));
    expect(signer.problem(received, received.signature)).toBeUndefined();
    // Headers carry only trace context and are not signed.
    const retraced = { ...received, headers: { traceparent: '00-11111111111111111111111111111111-2222222222222222-01' } };
    expect(signer.problem(retraced, retraced.signature)).toBeUndefined();
  });

  it.each<[string, (d: OutboxJobData) => SignedFields]>([
    ['payload', (d) => ({ ...d, payload: { ...(d.payload as object), n: 2 } })],
    ['payload (a key added)', (d) => ({ ...d, payload: { ...(d.payload as object), extra: 1 } })],
    ['outbox id', (d) => ({ ...d, outboxId: '0b6a3c1e-2f4d-4a5b-9c6d-7e8f9a0b1c2e' })],
    ['event type', (d) => ({ ...d, eventType: 'x.noted' })],
    ['aggregate id', (d) => ({ ...d, aggregateId: '5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1b' })],
    ['aggregate type', (d) => ({ ...d, aggregateType: 'other' })],
  ])('refuses a job whose %s was edited', (_what, edit) => {
    const signer = createSigner([NEW_KEY]);
    const received = throughRedis(jobData(signer));
    expect(signer.problem(edit(received), received.signature)).toMatch(/edited or forged/);
  });

  it('refuses a signature made with another key, or that is not one at all', () => {
    const received = throughRedis(jobData(createSigner(['someone-elses-key'])));
    const signer = createSigner([NEW_KEY]);
    expect(signer.problem(received, received.signature)).toMatch(/edited or forged/);
    expect(signer.problem(received, 'AAAA')).toMatch(/edited or forged/); // wrong length
    expect(signer.problem(received, received.signature!.slice(0, -2))).toMatch(/edited or forged/);
  });

  it('refuses a job that carries no signature', () => {
    const signer = createSigner([NEW_KEY]);
    const { signature: _dropped, ...unsigned } = throughRedis(jobData(signer));
    expect(signer.problem(unsigned, undefined)).toMatch(/no signature/);
    expect(signer.problem(unsigned, '')).toMatch(/no signature/);
    expect(signer.problem(unsigned, null)).toMatch(/no signature/);
    expect(signer.problem(unsigned, 42)).toMatch(/no signature/);
  });

  it('rotation: a signer with [new, old] verifies what [old] signed, and signs with the new key', () => {
    const before = createSigner([OLD_KEY]);
    const during = createSigner([NEW_KEY, OLD_KEY]);
    const after = createSigner([NEW_KEY]);
    const inFlight = throughRedis(jobData(before));
    expect(during.problem(inFlight, inFlight.signature)).toBeUndefined();
    const fresh = throughRedis(jobData(during));
    expect(after.problem(fresh, fresh.signature)).toBeUndefined(); // signed with keys[0]
    expect(before.problem(fresh, fresh.signature)).toMatch(/edited or forged/);
    expect(after.problem(inFlight, inFlight.signature)).toMatch(/edited or forged/); // the old key retired
  });
});
