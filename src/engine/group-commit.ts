// Group commit: statements that are ready at the same moment commit together, pipelined in one
// transaction with one commit for all (engine/batch.ts forms the batches; a statement alone runs
// as itself). A batch that fails (one statement refused, a deadlock) rolls back whole, and each of
// its statements then runs on its own, so one bad statement never fails the others. Each statement
// must be a whole unit of work on its own (one statement, one transaction) for this to be right:
// the consumers' recorded steps are, and so is the API's order insert.
import { isConnectionError, type Fragment, type Sql } from '../db/client.ts';
import { createBatcher } from './batch.ts';

export const GROUP_COMMIT = { maxBatch: 64, maxInFlight: 2, sharedFailure: isConnectionError };

// The fragment is wrapped: a postgres.js fragment is a thenable that would run if resolved.
export interface Statement {
  fragment: Fragment;
  // performance.now() past which the caller no longer waits: a statement still queued then is
  // never sent, and fails with DeadlinePassed.
  deadline?: number;
}

export class DeadlinePassed extends Error {
  override name = 'DeadlinePassed';
}
type Rows = Array<Record<string, unknown>>;
export type GroupCommit = <R extends object = Record<string, unknown>>(statement: Statement) => Promise<R[]>;

export function createGroupCommit(sql: Sql, onBatch?: (size: number) => void): GroupCommit {
  const one = (s: Statement): Promise<Rows> => sql<Rows>`${s.fragment}`;
  const many = async (statements: Statement[]): Promise<Rows[]> => (await sql.begin((tx) => Promise.all(statements.map((s) => tx<Rows>`${s.fragment}`)))) as Rows[];
  const expired = (s: Statement) => (s.deadline !== undefined && performance.now() >= s.deadline ? new DeadlinePassed('its caller stopped waiting before it was sent') : undefined);
  return createBatcher(many, one, { ...GROUP_COMMIT, onBatch, expired }) as GroupCommit;
}
