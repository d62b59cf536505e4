// POST /orders over keep-alive connections, with the body every figure of the run uses. The
// order counts as placed when its 201 has been read; its id comes from the Location header.
import http from 'node:http';
import { wallNow } from './clock.ts';
import type { Place } from './load.ts';
import { ORDER_BODY } from './payload.ts';

const BODY = JSON.stringify(ORDER_BODY);

export function httpPlacer(baseUrl: string, maxSockets = 64): { place: Place; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const url = new URL('/orders', baseUrl);
  const post = (retry: boolean): ReturnType<Place> =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          const t = wallNow();
          const id = /\/orders\/([0-9a-f-]{36})$/.exec(String(res.headers.location ?? ''))?.[1];
          if (res.statusCode === 201 && id) resolve({ id, t });
          else reject(new Error(`POST /orders answered ${res.statusCode}`));
        });
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed while idle (its keepAliveTimeout): send again on a
        // fresh socket, once (the pattern Node's docs give). Should the first request have been
        // taken after all, its order is an untracked extra that no figure counts.
        if (retry && req.reusedSocket && err.code === 'ECONNRESET') post(false).then(resolve, reject);
        else reject(err);
      });
      req.end(BODY);
    });
  return { place: () => post(true), close: () => agent.destroy() };
}
