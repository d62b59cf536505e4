// The give-up hook of the order service's steps: when a step's last attempt failed, the order
// moves to its failed status and the failure event is written, once (the status guard makes a
// second call a no-op). No inbox row: an operator may still retry the job from the board.
import type { Step } from '../engine/index.ts';
import { transitionOrder, type OrderStatus } from '../db/orders.ts';
import type { OrderEventType } from '../orders/topology.ts';

export async function recordOrderFailure(step: Step, transition: { from: readonly OrderStatus[]; to: OrderStatus; eventType: OrderEventType }, err: unknown): Promise<void> {
  const orderId = step.event.aggregateId;
  await step.db.begin(async (tx) => {
    if (!(await transitionOrder(tx, orderId, transition.from, transition.to))) return;
    await step.insertEvent(tx, step.next(transition.eventType, { order_id: orderId, reason: err instanceof Error ? err.message : String(err) }));
  });
}
