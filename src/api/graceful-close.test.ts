import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/context.ts';
import { gracefulCloser } from './graceful-close.ts';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

// A server whose /slow answers after 100 ms and / at once, like the API's two kinds of route.
async function listen(): Promise<{ url: string; close: () => Promise<void>; taken: () => number; slowInProgress: () => number }> {
  let taken = 0;
  let slow = 0;
  server = createServer((req, res) => {
    taken++;
    if (req.url === '/slow') {
      slow++;
      setTimeout(() => {
        slow--;
        res.end('slow');
      }, 100);
    } else res.end('fast');
  });
  const close = gracefulCloser(server);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close, taken: () => taken, slowInProgress: () => slow };
}

describe('gracefulCloser', () => {
  it('closes under steady keep-alive load once the requests in progress are answered', async () => {
    const { url, close, taken, slowInProgress } = await listen();
    let stop = false;
    const answers: Array<{ status: number; connection: string | null }> = [];
    const errors: string[] = [];
    // Eight clients sending back to back on their keep-alive connections.
    const clients = Array.from({ length: 8 }, async (_, i) => {
      while (!stop) {
        try {
          const res = await fetch(`${url}${i % 2 ? '/slow' : '/'}`);
          await res.text();
          answers.push({ status: res.status, connection: res.headers.get('connection') });
        } catch (err) {
          errors.push(String((err as { cause?: { code?: string } }).cause?.code ?? err));
        }
      }
    });
    // Close while the load runs and a slow request is in progress (its answer must say
    // Connection: close): a condition, not a fixed sleep, so a busy machine cannot race it.
    await waitFor('a slow request in progress under load', () => (answers.length >= 8 && slowInProgress() > 0) || undefined);
    const before = answers.length;

    // Plain server.close() never finished under keep-alive load (or only after the keep-alive
    // timeout); this must, or the test times out.
    await close();
    stop = true;
    await Promise.all(clients);
    // Every request the server took was answered, and those after close() said Connection: close.
    // Clients were refused new connections (ECONNREFUSED), or met HTTP/1.1's keep-alive race: a
    // request sent on an idle connection as it closed, which the server never took (ECONNRESET, or
    // undici's UND_ERR_SOCKET "other side closed").
    expect(answers).toHaveLength(taken());
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.slice(before).some((a) => a.connection === 'close')).toBe(true);
    expect(errors.filter((e) => !['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(e))).toEqual([]);
  });
});
