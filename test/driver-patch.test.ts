// The postgres.js patch (patches/postgres.mjs) against a fake server that lets a connection in and
// resets it while the driver fetches the array types, as a Postgres restarting under load does.
// Unpatched, the driver's type query was rejected with nothing awaiting it: an unhandled rejection
// that ended the process (a worker in test/faults/postgres-restart.test.ts). Patched, the query
// that opened the connection fails with the connection error, and nothing else happens.
import { createServer, type Server, type Socket } from 'node:net';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestContext, waitFor } from './support/context.ts';

const message = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const authOk = message('R', Buffer.from([0, 0, 0, 0]));
const readyForQuery = message('Z', Buffer.from('I'));

let server: Server;
const sockets = new Set<Socket>();

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

describe('the patched driver', () => {
  it('fails the first query, and raises nothing unhandled, when the connection dies while it fetches types', async () => {
    let typesAsked = 0;
    server = createServer((socket) => {
      sockets.add(socket);
      let startup = true;
      socket.on('data', (data) => {
        if (startup) {
          startup = false; // the startup message: let the client in at once
          socket.write(Buffer.concat([authOk, readyForQuery]));
          return;
        }
        if (data.includes('pg_catalog.pg_type')) typesAsked++;
        socket.resetAndDestroy(); // the server goes away in the middle of the type query
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const sql = postgres({ host: '127.0.0.1', port, user: 'x', database: 'x', max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await expect(sql`SELECT 1`).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|CONNECTION_CLOSED/) });
      // An unhandled rejection is reported once the microtasks of its turn have run: two turns on.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    expect(typesAsked).toBeGreaterThanOrEqual(1);
    expect(unhandled).toEqual([]);
  });

  it('hands a queued reserve a connection after the connection it waited on was terminated (porsager/postgres#1195)', async () => {
    // One connection, held by a reserve; a second reserve queues behind it. Terminating the held
    // connection's backend makes the pool re-make that connection for the queued reserve: unpatched,
    // the re-made connection drops it and its promise never settles (the relay's batch loops hung
    // so after Postgres restarts); patched, it gets the connection.
    const ctx = await createTestContext();
    const sql = postgres(ctx.env.DATABASE_URL!, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const held = await sql.reserve();
      const [row] = await held<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      let settled: 'resolved' | 'rejected' | undefined;
      const queued = sql.reserve();
      queued.then(
        () => {
          settled = 'resolved';
        },
        () => {
          settled = 'rejected';
        },
      );
      await ctx.sql`SELECT pg_terminate_backend(${row!.pid})`;
      await waitFor('the queued reserve to get a connection', () => settled !== undefined);
      expect(settled).toBe('resolved');
      const next = await queued;
      expect(await next`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      next.release();
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
      await ctx.cleanup();
    }
  });
});
