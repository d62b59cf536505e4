// Per-order timestamps from every process of a run, on the one clock of lib/clock.ts: when the
// order was placed (the 201, or the peer's commit, or a bare add's send) and when the helpers saw
// its payment start, its delivery and its invoice.
import type { Child } from './procs.ts';

export type MarkKind = 'pay' | 'delivered' | 'invoiced';
export interface MarksMessage {
  type: 'marks';
  marks: Array<[MarkKind, string, number]>;
}

interface Times {
  placed?: number;
  pay?: number;
  delivered?: number;
  invoiced?: number;
  done?: boolean;
}

export class OrderTracker {
  private readonly times = new Map<string, Times>();
  placedCount = 0;
  completedCount = 0;
  onComplete: (() => void) | undefined;

  // `doneWhen`: the marks an order needs to count as completed (for the sustained runs and for
  // waiting until a run has settled).
  constructor(readonly doneWhen: readonly MarkKind[]) {}

  placed(id: string, t: number): void {
    const rec = this.get(id);
    rec.placed = t;
    this.placedCount++;
    this.check(rec);
  }

  mark(kind: MarkKind, id: string, t: number): void {
    const rec = this.get(id);
    if (rec[kind] === undefined) rec[kind] = t;
    this.check(rec);
  }

  // Latencies from placement to `kind` for the given orders (ms; NaN-free: missing marks skipped).
  latencies(ids: readonly string[], kind: MarkKind): number[] {
    const out: number[] = [];
    for (const id of ids) {
      const r = this.times.get(id);
      if (r?.placed !== undefined && r[kind] !== undefined) out.push(r[kind]! - r.placed);
    }
    return out;
  }

  incomplete(ids: readonly string[]): number {
    return ids.filter((id) => !this.times.get(id)?.done).length;
  }

  // Waits for the orders to complete while they still make progress: gives up after `stallMs`
  // without a completion, or after `maxMs` in all. Returns how many are still incomplete.
  async settle(ids: readonly string[], stallMs: number, maxMs = 10 * stallMs): Promise<number> {
    const deadline = Date.now() + maxMs;
    let last = this.completedCount;
    let lastProgress = Date.now();
    while (this.incomplete(ids) > 0 && Date.now() < deadline && Date.now() - lastProgress < stallMs) {
      await new Promise((r) => setTimeout(r, 50));
      if (this.completedCount !== last) {
        last = this.completedCount;
        lastProgress = Date.now();
      }
    }
    return this.incomplete(ids);
  }

  private get(id: string): Times {
    let rec = this.times.get(id);
    if (!rec) {
      rec = {};
      this.times.set(id, rec);
    }
    return rec;
  }

  private check(rec: Times): void {
    if (rec.done || rec.placed === undefined || !this.doneWhen.every((k) => rec[k] !== undefined)) return;
    rec.done = true;
    this.completedCount++;
    this.onComplete?.();
  }
}

// Routes a helper's marks to whichever tracker is current.
export function feedMarks(child: Child, current: () => OrderTracker | undefined): void {
  child.onMessage((m) => {
    const msg = m as MarksMessage;
    if (msg.type !== 'marks') return;
    const tracker = current();
    if (tracker) for (const [kind, id, t] of msg.marks) tracker.mark(kind, id, t);
  });
}
