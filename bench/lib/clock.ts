// One clock for every process of a run: epoch milliseconds with sub-microsecond resolution
// (performance.timeOrigin + performance.now()). Processes on one machine agree on it to a few
// microseconds (checked at start by a ping-pong, see lib/procs.ts), so a timestamp taken in a
// worker process can be subtracted from one taken in the load generator. Date.now() is too coarse.
import { setTimeout as delay } from 'node:timers/promises';

export const wallNow = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> => delay(ms);

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
