// A level-triggered wake-up: a notify() that arrives while nobody waits is kept, so the next wait()
// returns at once and no commit is left waiting for the fallback poll.
export class WakeSignal {
  private pending = false;
  private waiters: Array<() => void> = [];

  notify(): void {
    if (this.waiters.length === 0) {
      this.pending = true;
      return;
    }
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
