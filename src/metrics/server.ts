// A small HTTP server for /metrics when a process has no API (relay or workers running alone).
// Several workers on one host must run side by side: a taken port falls back to a free one.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export async function startMetricsServer(registry: Registry, port: number, host: string, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
    );
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen(port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    await listen(0);
    log.warn({ wanted: port }, `METRICS_PORT ${port} is taken; serving metrics on a free port instead`);
  }
  const bound = (server.address() as AddressInfo).port;
  log.info({ port: bound }, `metrics at http://localhost:${bound}/metrics`);
  return server;
}
