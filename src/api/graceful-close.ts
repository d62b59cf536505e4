// Closing the HTTP server gracefully under keep-alive load. server.close() only refuses new
// connections: clients keep sending requests on the connections they already have open, so under
// steady load close() never finished, and the grace period cut the process off in the middle of
// requests (test/faults/sigterm.test.ts). Once closing, every response — those in progress too —
// says `Connection: close`, so each connection ends with the request it carries; idle connections
// are closed at once.
import type { Server, ServerResponse } from 'node:http';

// Call once, right after the server is created; returns the function that closes it.
export function gracefulCloser(server: Server): () => Promise<void> {
  const inProgress = new Set<ServerResponse>();
  let closing = false;
  const closeAfter = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
  };
  // Prepended: a handler that answers synchronously has written its headers by the time a listener
  // added after it runs.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) return closeAfter(res);
    inProgress.add(res);
    res.once('close', () => inProgress.delete(res));
  });
  return () =>
    new Promise<void>((resolve) => {
      closing = true;
      server.close(() => resolve());
      for (const res of inProgress) closeAfter(res);
      server.closeIdleConnections();
    });
}
