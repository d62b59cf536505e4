// Query functions for the simulated payment gateway's own ledger (the steps' effects are in steps.ts).
import type { Db } from './client.ts';

// The gateway's ledger: inserts the charge for an idempotency key, or returns the one already there.
export async function upsertGatewayCharge(
  db: Db,
  c: { id: string; idempotencyKey: string; orderId: string; amountCents: number },
): Promise<{ id: string; amount_cents: number; replayed: boolean } | undefined> {
  const [row] = await db<{ id: string; amount_cents: number; replayed: boolean }[]>`
    WITH ins AS (
      INSERT INTO gateway_charges (id, idempotency_key, order_id, amount_cents)
      VALUES (${c.id}, ${c.idempotencyKey}, ${c.orderId}, ${c.amountCents})
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING id, amount_cents, false AS replayed
    )
    SELECT * FROM ins
    UNION ALL
    SELECT id, amount_cents, true FROM gateway_charges WHERE idempotency_key = ${c.idempotencyKey} AND NOT EXISTS (SELECT 1 FROM ins)`;
  return row; // undefined only when a concurrent insert of the same key committed after our snapshot
}
