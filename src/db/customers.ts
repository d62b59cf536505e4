// Query functions for customers and their bearer tokens: one statement each. Tokens are stored as
// their SHA-256 only (customer_tokens.token_hash).
import type { Db, Fragment } from './client.ts';

export interface CustomerRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: Date;
}

// The customer and its customer.created event as one statement (the engine's outbox insert is
// `eventInsert`). A duplicate email fails it with 23505 on customers_email_key.
export async function insertCustomerWithEvent(
  db: Db,
  customer: { id: string; email: string; passwordHash: string },
  eventInsert: Fragment,
): Promise<{ id: string; created_at: Date }> {
  const [row] = await db<{ id: string; created_at: Date }[]>`
    WITH inserted AS (
      INSERT INTO customers (id, email, password_hash) VALUES (${customer.id}, ${customer.email}, ${customer.passwordHash})
      RETURNING id, created_at
    ), event AS (${eventInsert})
    SELECT inserted.id, inserted.created_at FROM inserted, event`;
  if (!row) throw new Error('customer insert returned no row');
  return row;
}

// The customer with this email, in any case.
export async function findCustomerByEmail(db: Db, email: string): Promise<CustomerRow | undefined> {
  const [row] = await db<CustomerRow[]>`SELECT * FROM customers WHERE lower(email) = lower(${email})`;
  return row;
}

// Stores a new token's hash, valid for `ttlS` seconds; returns when it expires.
export async function insertCustomerToken(db: Db, tokenHash: Buffer, customerId: string, ttlS: number): Promise<Date> {
  const [row] = await db<{ expires_at: Date }[]>`
    INSERT INTO customer_tokens (token_hash, customer_id, expires_at)
    VALUES (${tokenHash}, ${customerId}, now() + make_interval(secs => ${ttlS}))
    RETURNING expires_at`;
  return row!.expires_at;
}

// The customer a token hash belongs to, if the token exists and has not expired.
export async function findTokenCustomer(db: Db, tokenHash: Buffer): Promise<string | undefined> {
  const [row] = await db<{ customer_id: string }[]>`SELECT customer_id FROM customer_tokens WHERE token_hash = ${tokenHash} AND expires_at > now()`;
  return row?.customer_id;
}

// Revokes a token (logout); true when there was one.
export async function deleteCustomerToken(db: Db, tokenHash: Buffer): Promise<boolean> {
  const rows = await db`DELETE FROM customer_tokens WHERE token_hash = ${tokenHash} RETURNING 1`;
  return rows.length === 1;
}

// Expired tokens, at most `limit` per statement (pruned beside the engine's tables).
export async function deleteExpiredCustomerTokens(db: Db, limit: number): Promise<number> {
  const rows = await db`
    DELETE FROM customer_tokens WHERE token_hash IN (
      SELECT token_hash FROM customer_tokens WHERE expires_at < now() LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING 1`;
  return rows.length;
}
