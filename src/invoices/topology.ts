// The invoice service's side of the topology: it consumes the invoices queue (filled by the order
// service's relay with order.paid) and emits no events of its own.
import { defineTopology } from '../engine/index.ts';

export const INVOICE_TOPOLOGY = defineTopology({
  queues: { invoices: { consumer: 'invoice' } },
  routes: {},
});
