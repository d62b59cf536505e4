// The order service's consumers (payments, deliveries), as specs for the outbox engine, which runs
// them. The invoices queue belongs to the invoice service (src/invoices/).
import { Histogram, type Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Sql } from '../db/client.ts';
import type { ConsumerSpec } from '../engine/index.ts';
import type { OrderEventType, QueueName } from '../orders/topology.ts';
import { deliveryConsumer } from './delivery.ts';
import { createSimulatedGateway } from './gateway.ts';
import { paymentConsumer } from './payment.ts';

export const ORDER_SERVICE_QUEUES: readonly QueueName[] = ['payments', 'deliveries'];

export function orderToDeliveredHistogram(registry: Registry) {
  return new Histogram({
    name: 'order_created_to_delivered_seconds',
    help: 'Time from an order being created to it being delivered',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
}

export function orderConsumers(sql: Sql, config: Config, registry?: Registry): Array<ConsumerSpec<OrderEventType, QueueName>> {
  const gateway = createSimulatedGateway(sql, {
    latencyMs: config.GATEWAY_LATENCY_MS,
    failureRate: config.GATEWAY_FAILURE_RATE,
    declineOverCents: config.GATEWAY_DECLINE_OVER_CENTS,
  });
  const delivered = registry && orderToDeliveredHistogram(registry);
  const specs = {
    payments: paymentConsumer(gateway),
    deliveries: deliveryConsumer({
      latencyMs: config.DELIVERY_LATENCY_MS,
      failureRate: config.DELIVERY_FAILURE_RATE,
      onDelivered: (createdAt) => delivered?.observe((Date.now() - createdAt.getTime()) / 1000),
    }),
  };
  return ORDER_SERVICE_QUEUES.filter((q) => config.WORKER_QUEUES.includes(q)).map((q) => specs[q as keyof typeof specs]);
}
