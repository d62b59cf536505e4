// Query functions for the consumers: the inbox that makes each effect happen once, and the effects.
import type { Db } from './client.ts';

// Records that `consumer` has handled `messageId`. Returns false when it already had: the caller's
// transaction then has nothing to do. Run in the same transaction as the effect it guards.
export async function claimInboxMessage(db: Db, consumer: string, messageId: string): Promise<boolean> {
  const rows = await db`
    INSERT INTO processed_messages (consumer, message_id) VALUES (${consumer}, ${messageId})
    ON CONFLICT DO NOTHING RETURNING message_id`;
  return rows.length === 1;
}

// Cheap read before doing slow work (the gateway call); the insert above is what decides.
export async function isMessageProcessed(db: Db, consumer: string, messageId: string): Promise<boolean> {
  const rows = await db`SELECT 1 FROM processed_messages WHERE consumer = ${consumer} AND message_id = ${messageId}`;
  return rows.length === 1;
}

// Records the payment for an order.
export async function insertPayment(db: Db, p: { id: string; orderId: string; chargeId: string; amountCents: number }): Promise<void> {
  await db`INSERT INTO payments (id, order_id, charge_id, amount_cents) VALUES (${p.id}, ${p.orderId}, ${p.chargeId}, ${p.amountCents})`;
}

// Records the dispatch of an order.
export async function insertDelivery(db: Db, d: { id: string; orderId: string; courier: string }): Promise<void> {
  await db`INSERT INTO deliveries (id, order_id, courier) VALUES (${d.id}, ${d.orderId}, ${d.courier})`;
}

// Bills an order; the number comes from a sequence so invoices are numbered without gaps in practice.
export async function insertInvoice(db: Db, i: { id: string; orderId: string; amountCents: number }): Promise<string> {
  const [row] = await db<{ number: string }[]>`
    INSERT INTO invoices (id, order_id, number, amount_cents)
    VALUES (${i.id}, ${i.orderId}, 'INV-' || lpad(nextval('invoice_number_seq')::text, 8, '0'), ${i.amountCents})
    RETURNING number`;
  return row!.number;
}

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
