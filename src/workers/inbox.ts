// The inbox guard every consumer shares: the effect and the (consumer, message) row commit
// together, so an effect happens once however many times its message is delivered.
import type { Sql, TxSql } from '../db/client.ts';
import { claimInboxMessage } from '../db/effects.ts';
import { crashPoint } from '../fault-points.ts';

export type Once<T> = { outcome: 'done'; value: T } | { outcome: 'duplicate' };

export async function runOnce<T>(sql: Sql, consumer: string, messageId: string, effect: (tx: TxSql) => Promise<T>): Promise<Once<T>> {
  return sql.begin(async (tx) => {
    if (!(await claimInboxMessage(tx, consumer, messageId))) return { outcome: 'duplicate' as const };
    const value = await effect(tx);
    crashPoint('before-inbox-commit');
    return { outcome: 'done' as const, value };
  });
}
