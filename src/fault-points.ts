// Crash points for the fault suite: FAULT_INJECTION="after-charge:0.2,relay-after-add:0.1" makes the
// process kill itself (SIGKILL, like a power cut) at that point with that probability. Empty in
// production; the parsing lives in the config schema like every other variable.
export type FaultPoint = 'after-charge' | 'relay-after-add' | 'before-inbox-commit';
export const FAULT_POINTS: readonly FaultPoint[] = ['after-charge', 'relay-after-add', 'before-inbox-commit'];

export type FaultPlan = Partial<Record<FaultPoint, number>>;

let plan: FaultPlan = {};

export function setFaultPlan(next: FaultPlan): void {
  plan = next;
}

export function crashPoint(point: FaultPoint): void {
  const probability = plan[point];
  if (probability !== undefined && Math.random() < probability) process.kill(process.pid, 'SIGKILL');
}
