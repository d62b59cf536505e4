// Crash points for the fault suite: FAULT_INJECTION="after-charge:0.2,relay-after-add:0.1" makes the
// process kill itself (SIGKILL, like a power cut) at that point with that probability. A freeze
// point (`relay-freeze-after-add`) stops the process instead (SIGSTOP, as a paused VM or a GC pause
// of minutes would), once: the test sends SIGCONT when it wants it back. Empty in production; the
// parsing lives in the config schema like every other variable.
export type FaultPoint = 'after-charge' | 'relay-after-add' | 'before-inbox-commit' | 'relay-freeze-after-add';
export const FAULT_POINTS: readonly FaultPoint[] = ['after-charge', 'relay-after-add', 'before-inbox-commit', 'relay-freeze-after-add'];

export type FaultPlan = Partial<Record<FaultPoint, number>>;

let plan: FaultPlan = {};

export function setFaultPlan(next: FaultPlan): void {
  plan = next;
}

export function crashPoint(point: FaultPoint): void {
  const probability = plan[point];
  if (probability === undefined || Math.random() >= probability) return;
  if (!point.includes('-freeze-')) process.kill(process.pid, 'SIGKILL');
  plan = { ...plan, [point]: undefined }; // a freeze happens once
  process.kill(process.pid, 'SIGSTOP');
}
