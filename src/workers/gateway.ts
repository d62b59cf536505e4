// A simulated payment provider. It keeps its own ledger (gateway_charges) keyed by the caller's
// idempotency key, like a real provider: calling it twice with one key returns the first charge.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from '../db/client.ts';
import { upsertGatewayCharge } from '../db/gateway.ts';

export class PaymentDeclinedError extends Error {
  override name = 'PaymentDeclinedError';
}

export class GatewayUnavailableError extends Error {
  override name = 'GatewayUnavailableError';
}

export interface GatewaySettings {
  latencyMs: number;
  failureRate: number; // share of calls that fail transiently, before charging
  declineOverCents?: number | undefined; // amounts above this are declined; undefined: never
  random?: () => number;
}

export interface Charge {
  chargeId: string;
  amountCents: number;
  replayed: boolean;
}

export interface PaymentGateway {
  charge(request: { idempotencyKey: string; orderId: string; amountCents: number }): Promise<Charge>;
}

export function createSimulatedGateway(sql: Sql, settings: GatewaySettings): PaymentGateway {
  const random = settings.random ?? Math.random;
  return {
    async charge({ idempotencyKey, orderId, amountCents }) {
      if (settings.latencyMs > 0) await sleep(settings.latencyMs);
      if (random() < settings.failureRate) throw new GatewayUnavailableError('payment gateway timed out (simulated); the job will retry');
      if (settings.declineOverCents !== undefined && amountCents > settings.declineOverCents) {
        throw new PaymentDeclinedError(`card declined: ${amountCents} cents is over the limit of ${settings.declineOverCents}`);
      }
      const charge = { id: randomUUID(), idempotencyKey, orderId, amountCents };
      // A concurrent call with the same key commits after this statement's snapshot: read it again.
      const row = (await upsertGatewayCharge(sql, charge)) ?? (await upsertGatewayCharge(sql, charge));
      if (!row) throw new GatewayUnavailableError('payment gateway lost a concurrent charge; the job will retry');
      return { chargeId: row.id, amountCents: row.amount_cents, replayed: row.replayed };
    },
  };
}
