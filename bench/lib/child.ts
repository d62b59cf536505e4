// What every helper process of the harness does: report timing marks to the harness in batches,
// answer clock pings, say when it is ready, and stop cleanly on SIGTERM.
import { wallNow } from './clock.ts';
import type { MarkKind, MarksMessage } from './tracker.ts';

export function createMarkSender(flushEveryMs = 20) {
  let buffer: MarksMessage['marks'] = [];
  const flush = () => {
    if (buffer.length === 0 || !process.connected) return;
    process.send!({ type: 'marks', marks: buffer } satisfies MarksMessage);
    buffer = [];
  };
  setInterval(flush, flushEveryMs).unref();
  return {
    mark(kind: MarkKind, id: string, t = wallNow()) {
      buffer.push([kind, id, t]);
    },
    flush,
  };
}

export function helperLifecycle(stop: () => Promise<void>): { ready(extra?: Record<string, unknown>): void } {
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'ping') process.send?.({ type: 'pong', t: wallNow() });
  });
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(1);
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { ready: (extra = {}) => process.send?.({ type: 'ready', ...extra }) };
}
