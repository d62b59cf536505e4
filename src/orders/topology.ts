// The order service's events, the queues they go to, and each queue's consumer: the data the
// outbox engine is given (src/engine/index.ts). The invoices queue is consumed by the invoice
// service (src/invoices/), which may keep its own database.
import { defineTopology } from '../engine/index.ts';

export const ORDER_TOPOLOGY = defineTopology({
  queues: {
    payments: { consumer: 'payment' },
    deliveries: { consumer: 'delivery' },
    invoices: { consumer: 'invoice' },
  },
  routes: {
    'order.created': ['payments'],
    'order.paid': ['deliveries', 'invoices'],
    'order.payment_failed': [],
    'order.delivered': [],
    'order.delivery_failed': [],
    // From POST /users (aggregate: the customer). Routed nowhere yet: the relay publishes it and
    // marks it published, so a consumer added later (a welcome mail) finds it in the log of events.
    'customer.created': [],
  },
});

export const QUEUE_NAMES = ORDER_TOPOLOGY.queueNames;
export type QueueName = (typeof QUEUE_NAMES)[number];
export type OrderEventType = (typeof ORDER_TOPOLOGY.eventTypes)[number];
