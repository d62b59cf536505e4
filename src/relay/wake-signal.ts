// A level-triggered wake-up: a notify() that arrives while nobody waits is kept, so the next wait()
// returns at once and no commit is left waiting for the fallback poll. Each notify wakes one
// waiter: a few new rows need one claim, not one per relay loop (a loop that finds a full batch
// wakes the next one itself).
export class WakeSignal {
  private pending = false;
  private waiters: Array<() => void> = [];

  notify(): void {
    const wake = this.waiters.shift();
    if (wake) wake();
    else this.pending = true;
  }

  notifyAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  // Resolves true when woken, false when `timeoutMs` passed first.
  wait(timeoutMs: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(wake);
    });
  }
}
