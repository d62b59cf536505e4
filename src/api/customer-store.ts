// The customers' store: sign-up with its customer.created event, login, logout.
import { randomUUID } from 'node:crypto';
import type { Sql } from '../db/client.ts';
import { deleteCustomerToken, findCustomerByEmail, findTokenCustomer, insertCustomerToken, insertCustomerWithEvent } from '../db/customers.ts';
import { CUSTOMER_TOKEN_PREFIX, newToken, tokenHash } from './middleware/customer-auth.ts';
import type { OrderOutbox } from './order-store.ts';
import { decoyHash, hashPassword, verifyPassword } from './passwords.ts';
import type { CustomerStore } from './routes/users.ts';

const UNIQUE_VIOLATION = '23505';

export function createCustomerStore(sql: Sql, outbox: OrderOutbox, tokenTtlS: number): CustomerStore & { customerOfToken: (hash: Buffer) => Promise<string | undefined> } {
  return {
    async create(email, password, traceparent) {
      const id = randomUUID();
      const passwordHash = await hashPassword(password);
      // The event carries no password hash and no email: consumers look the customer up if they must.
      const event = outbox.newEvent('customer.created', { type: 'customer', id }, { customer_id: id }, traceparent ? { traceparent } : {});
      try {
        const row = await insertCustomerWithEvent(sql, { id, email, passwordHash }, outbox.eventInsert(sql, event));
        outbox.wakeRelay();
        return { id: row.id, email, created_at: row.created_at };
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
        throw err;
      }
    },
    async login(email, password) {
      const customer = await findCustomerByEmail(sql, email);
      // An unknown email costs a hash too: the answer's timing does not tell who has an account.
      const ok = await verifyPassword(password, customer?.password_hash ?? (await decoyHash()));
      if (!customer || !ok) return undefined;
      const { token, hash } = newToken(CUSTOMER_TOKEN_PREFIX);
      const expiresAt = await insertCustomerToken(sql, hash, customer.id, tokenTtlS);
      return { token, expiresAt, ttlS: tokenTtlS };
    },
    logout: (token) => deleteCustomerToken(sql, tokenHash(token)),
    customerOfToken: (hash) => findTokenCustomer(sql, hash),
  };
}
