// Every child process a fault test starts (roles, private Redis and Postgres servers) is tracked
// here, so afterAll can end them all by pid whatever happened, and so none outlives the test
// worker even if vitest tears it down early.
import type { Child } from '../../support/processes.ts';

const live = new Set<Child>();

export function track<C extends Child>(child: C): C {
  live.add(child);
  void child.exited.then(() => live.delete(child));
  return child;
}

// SIGKILL to every tracked process still running, then wait (bounded) for their exits.
export async function killAllTracked(timeoutMs = 10_000): Promise<void> {
  const children = [...live];
  for (const child of children) child.kill('SIGKILL');
  await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
}

// Last resort: the test worker is exiting with children still alive.
process.once('exit', () => {
  for (const child of live) {
    try {
      child.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});
