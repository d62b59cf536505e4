// Run as its own process by test/faults/postgres-restart.test.ts: transactions whose connection is
// terminated under them, both ways postgres.js 3.4.9 crashed on (porsager/postgres#1208, patched by
// patches/postgres.mjs): a query in flight (begin's own ROLLBACK follows it), and the callback's next
// query after the close. Unpatched, the process dies of an uncaught TypeError; patched, both
// transactions fail with CONNECTION_CLOSED, the pool works on, and this prints "survived".
import postgres from 'postgres';
import { createSql } from '../../../src/db/client.ts';

const url = process.env.DATABASE_URL!;
const sql = createSql({ url, max: 2, connectTimeoutS: 2 });
const killer = postgres(url, { max: 1, onnotice: () => {} });

async function dieUnder(work: (t: postgres.TransactionSql) => Promise<unknown>): Promise<string> {
  let pid: number | undefined;
  // The outcome is taken at once: the transaction may fail before the terminate query returns.
  const outcome = sql
    .begin(async (t) => {
      pid = (await t<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
      await work(t);
    })
    .then(
      () => 'committed',
      (err: { code?: string }) => err.code ?? String(err),
    );
  while (pid === undefined) await new Promise((r) => setTimeout(r, 10));
  await killer`SELECT pg_terminate_backend(${pid})`;
  return outcome;
}

const inFlight = await dieUnder(async (t) => {
  await t`SELECT pg_sleep(2)`;
});
const afterClose = await dieUnder(async (t) => {
  await new Promise((r) => setTimeout(r, 300));
  await t`SELECT 1`;
});
await new Promise((r) => setTimeout(r, 300)); // the deferred writes run here, unpatched
const [row] = await sql<{ ok: number }[]>`SELECT 1 AS ok`;
console.log(JSON.stringify({ inFlight, afterClose, poolAfter: row?.ok }));
await sql.end({ timeout: 1 });
await killer.end({ timeout: 1 });
console.log('survived');
