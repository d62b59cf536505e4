// Event types, the queues they are routed to, and the shape of a job. Shared by api, relay and workers.

export const QUEUE_NAMES = ['payments', 'deliveries', 'invoices'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

// The inbox name (processed_messages.consumer) of the worker that consumes each queue.
export const CONSUMER_OF_QUEUE: Readonly<Record<QueueName, string>> = {
  payments: 'payment',
  deliveries: 'delivery',
  invoices: 'invoice',
};

export const EVENT_TYPES = ['order.created', 'order.paid', 'order.payment_failed', 'order.delivered', 'order.delivery_failed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

// An event with no queues is still published (kept as history); an event type missing here is poison.
export const ROUTES: Readonly<Record<EventType, readonly QueueName[]>> = {
  'order.created': ['payments'],
  'order.paid': ['deliveries', 'invoices'],
  'order.payment_failed': [],
  'order.delivered': [],
  'order.delivery_failed': [],
};

export function routeFor(eventType: string): readonly QueueName[] | undefined {
  return Object.hasOwn(ROUTES, eventType) ? ROUTES[eventType as EventType] : undefined;
}

export interface EventHeaders {
  traceparent?: string;
  correlation_id?: string;
  [key: string]: string | undefined;
}

// What a BullMQ job carries. Workers use outboxId and aggregateId only to look rows up again:
// a job can be forged or edited from the dashboard, so the database is the source of truth.
export interface OutboxJobData {
  outboxId: string;
  eventType: string;
  aggregateId: string;
  payload: unknown;
  headers: EventHeaders;
}
