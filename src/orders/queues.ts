// The order service's BullMQ queues, for the operator tools (audit, demo, outbox admin) and tests
// that open them without building the whole system.
import type { RedisConnection } from '../redis/connection.ts';
import { createQueues, type JobSettings, type Queues } from '../redis/queues.ts';
import { QUEUE_NAMES, type QueueName } from './topology.ts';

export type OrderQueues = Queues<QueueName>;

export function createOrderQueues(connection: RedisConnection, config: JobSettings, onError?: (err: Error) => void): OrderQueues {
  return createQueues(connection, QUEUE_NAMES, config, onError);
}
