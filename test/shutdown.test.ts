// Guarantee 7: SIGTERM lets active jobs finish and exits cleanly; a second signal forces the exit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { freePort, startNode, type Child } from './support/processes.ts';
import { PIZZA, postJson, startSystem, type RunningSystem } from './support/system.ts';

let ctx: TestContext;
let api: RunningSystem;
const children: Child[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
  api = await startSystem(ctx, ['api', 'relay']); // workers run as separate processes below
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await api?.stop();
  await ctx?.cleanup();
});

async function startSlowWorker(extra: Record<string, string> = {}): Promise<Child> {
  const child = startNode('src/workers/main.ts', { ...ctx.env, LOG_LEVEL: 'info', GATEWAY_LATENCY_MS: '1500', WORKER_QUEUES: 'payments', ...extra });
  children.push(child);
  await waitFor('the worker to start', () => child.output().includes('"msg":"started"'));
  return child;
}

async function placeAndWaitUntilActive(): Promise<{ orderId: string; jobId: string }> {
  const res = await postJson(`${api.url}/pizza`, PIZZA);
  const { id: orderId } = (await res.json()) as { id: string };
  const [event] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${orderId}`;
  await waitFor('the payment job to be active', async () => (await api.queues.payments.getJobState(event!.id)) === 'active');
  return { orderId, jobId: event!.id };
}

describe('a worker receiving SIGTERM', () => {
  it('finishes the active payment, then exits with code 0', async () => {
    const worker = await startSlowWorker();
    const { orderId, jobId } = await placeAndWaitUntilActive();
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
    expect(worker.output()).toContain('stopped cleanly');
    expect(await api.queues.payments.getJobState(jobId)).toBe('completed');
    const [order] = await ctx.sql`SELECT status FROM orders WHERE id = ${orderId}`;
    expect(order!.status).toBe('paid');
  });

  it('exits at once on a second signal, leaving the job to be retried', async () => {
    const worker = await startSlowWorker({ SHUTDOWN_GRACE_MS: '60000' });
    const { orderId } = await placeAndWaitUntilActive();
    worker.kill('SIGTERM');
    await waitFor('the worker to begin shutting down', () => worker.output().includes('shutting down'));
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code).toBe(1);
    expect(worker.output()).toContain('second signal');
    const [order] = await ctx.sql`SELECT status FROM orders WHERE id = ${orderId}`;
    expect(order!.status).toBe('pending_payment');
  });

  it('exits with code 1 once the grace period is over, naming what it was still waiting on', async () => {
    // A payment far longer than the grace period: the stop can only end by the grace running out.
    const worker = await startSlowWorker({ GATEWAY_LATENCY_MS: '60000', SHUTDOWN_GRACE_MS: '300' });
    await placeAndWaitUntilActive();
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code).toBe(1);
    const line = worker
      .output()
      .split('\n')
      .find((l) => l.includes('grace period over'));
    expect(line, worker.output().slice(-2000)).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 50, waiting_on: 'order consumers (jobs still running)', grace_ms: 300 });
  });
});

describe('a worker told to stop while Redis is away', () => {
  it('exits cleanly at once instead of waiting out the grace period: nothing is running', async () => {
    // A Redis nobody listens on; the grace period is longer than the test may run.
    const worker = startNode('src/workers/main.ts', { ...ctx.env, LOG_LEVEL: 'info', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, SHUTDOWN_GRACE_MS: '600000' });
    children.push(worker);
    await waitFor('the worker to start', () => worker.output().includes('"msg":"started"'));
    await waitFor('the worker to find Redis away', () => worker.output().includes('cannot reach Redis'));
    worker.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
    expect(worker.output()).toContain('Redis is away: closing the workers');
    expect(worker.output()).toContain('stopped cleanly');
    expect(worker.output()).not.toContain('grace period over');
  });
});
