// Queue depth read from BullMQ at scrape time: bullmq_jobs{queue,state} and bullmq_workers{queue}.
// Every process has the queues (the API for Bull Board, the relay to add, workers to take), so a
// stopped worker fleet shows as a waiting count that grows. With Redis away a scrape still answers:
// the queue gauges have no sample and redis_up reads 0.
import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { cachedReading } from './scrape-cache.ts';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed'] as const;

type JobCounts = Record<(typeof JOB_STATES)[number], number>;

interface QueueReading {
  counts: Map<string, JobCounts>;
  // Absent when Redis refuses CLIENT LIST (some managed services do); the counts still show.
  workers: Map<string, number>;
}

type CountedQueue = Pick<Queue, 'name' | 'getJobCounts' | 'getWorkersCount'>;

async function readQueues(queues: readonly CountedQueue[]): Promise<QueueReading> {
  const counts = new Map<string, JobCounts>();
  const workers = new Map<string, number>();
  await Promise.all(
    queues.map(async (q) => {
      counts.set(q.name, (await q.getJobCounts(...JOB_STATES)) as JobCounts);
      const n = await q.getWorkersCount().catch(() => undefined);
      if (n !== undefined) workers.set(q.name, n);
    }),
  );
  return { counts, workers };
}

export function registerQueueGauges(registry: Registry, queues: Record<string, CountedQueue>): void {
  if (registry.getSingleMetric('bullmq_jobs')) return;
  const list = Object.values(queues);
  const reading = cachedReading(() => readQueues(list));
  const registers = [registry];
  new Gauge({
    name: 'bullmq_jobs',
    help: 'Jobs in each BullMQ queue by state (waiting, active, delayed, failed, completed, ...), read from Redis',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      const r = await reading();
      this.reset();
      for (const [queue, counts] of r?.counts ?? []) for (const state of JOB_STATES) this.set({ queue, state }, counts[state] ?? 0);
    },
  });
  new Gauge({
    name: 'bullmq_workers',
    help: 'BullMQ workers connected to each queue (any process), read from Redis',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      const r = await reading();
      this.reset();
      for (const [queue, n] of r?.workers ?? []) this.set({ queue }, n);
    },
  });
  new Gauge({
    name: 'redis_up',
    help: '1 when the queue gauges could be read from Redis at this scrape, else 0',
    registers,
    async collect() {
      this.set((await reading()) ? 1 : 0);
    },
  });
}
