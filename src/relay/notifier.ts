// Cross-process wake-up for relays: at most one NOTIFY in flight and at least `minGapMs` between
// two, always sent after the order transaction committed, never inside it (a NOTIFY inside every
// order transaction takes a cluster-wide lock at commit and serialises all commits).
export const WAKE_CHANNEL = 'outbox_wakeup';

export function createCoalescedNotifier(send: () => Promise<unknown>, minGapMs: number, onError: (err: unknown) => void) {
  let inFlight = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let lastSentAt = -Infinity;
  let stopped = false;

  const fire = () => {
    timer = undefined;
    inFlight = true;
    again = false;
    lastSentAt = performance.now();
    send()
      .catch(onError)
      .finally(() => {
        inFlight = false;
        if (again) poke();
      });
  };

  function poke(): void {
    if (stopped) return;
    if (inFlight) {
      again = true;
      return;
    }
    if (timer) return;
    const wait = lastSentAt + minGapMs - performance.now();
    if (wait <= 0) fire();
    else timer = setTimeout(fire, wait);
  }

  return {
    poke,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
