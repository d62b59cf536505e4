// The audit oracle against real Postgres and Redis: silent on a pipeline that did its work, and
// finding each kind of violation, seeded by hand, in the right category with the right ids.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit, type AuditItem, type AuditReport, type Category } from '../src/audit/audit.ts';
import { workerRedisOptions } from '../src/redis/connection.ts';
import { closeQueues } from '../src/redis/queues.ts';
import { createOrderQueues, type OrderQueues as Queues } from '../src/orders/queues.ts';
import { createTestContext, waitFor, type TestContext } from './support/context.ts';
import { startNode } from './support/processes.ts';
import { effectCounts, postJson, startSystem } from './support/system.ts';

const HOUR = 3_600_000;

let ctx: TestContext;
let queues: Queues;
let tmp: string;
beforeAll(async () => {
  ctx = await createTestContext();
  queues = createOrderQueues(ctx.redis, ctx.config);
  tmp = await mkdtemp(join(tmpdir(), 'audit-test-'));
});
afterAll(async () => {
  if (queues) await closeQueues(queues);
  await ctx?.cleanup();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function runCli(args: string[], env: Record<string, string> = ctx.env) {
  const child = startNode('src/audit/cli.ts', env, args);
  const { code } = await child.exited;
  return { code, output: child.output() };
}

async function cliReport(args: string[], env: Record<string, string> = ctx.env): Promise<{ code: number | null; output: string; report: AuditReport }> {
  const file = join(tmp, `${randomUUID()}.json`);
  const { code, output } = await runCli([...args, '--json', file], env);
  return { code, output, report: JSON.parse(await readFile(file, 'utf8')) as AuditReport };
}

describe('on a pipeline that delivered every order', () => {
  const orderIds: string[] = [];
  beforeAll(async () => {
    const system = await startSystem(ctx);
    try {
      for (const name of ['Ann', 'Bo', 'Cy']) {
        const res = await postJson(`${system.url}/orders`, {
          customer_name: name,
          address: '3 Audit Rd',
          items: [{ flavor: 'Marinara', size: 'medium', quantity: 1, unit_price_cents: 1200 }],
        });
        expect(res.status).toBe(201);
        orderIds.push(((await res.json()) as { id: string }).id);
      }
      for (const id of orderIds)
        await waitFor(`order ${id} delivered and invoiced`, async () => (await effectCounts(ctx, id)).invoices === 1 && (await statusOf(id)) === 'delivered');
      await waitFor('every event published', async () => (await ctx.sql`SELECT 1 FROM outbox WHERE published_at IS NULL`).length === 0);
      await waitFor('every job completed', async () => {
        const counts = await Promise.all(Object.values(queues).map((q) => q.getJobCounts('completed', 'active', 'waiting', 'delayed')));
        return counts.every((c) => c.completed === 3 && !c.active && !c.waiting && !c.delayed);
      });
    } finally {
      await system.stop();
    }
  });

  it('reports ok with zero counts, and what it checked', async () => {
    const report = await runAudit({ sql: ctx.sql, invoicesSql: ctx.invoicesSql, queues, settleMs: 0, lockDurationMs: 30_000 });
    expect(report.counts).toEqual({ lost: 0, duplicated: 0, unexpected: 0, stuck: 0, recovered: 0 });
    expect(report.ok).toBe(true);
    expect(report.totals).toEqual({ orders: 3, outboxRows: 9, jobsScanned: 9, jobsPastRetention: 0 });
    expect(Object.values(report.items).flat()).toEqual([]);
    expect(report.settleMs).toBe(0);
    expect(Date.parse(report.checkedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('the CLI exits 0 and says OK', async () => {
    const { code, output, report } = await cliReport(['--settle-ms', '0']);
    expect(output).toContain('0 lost, 0 duplicated, 0 unexpected, 0 stuck, 0 recovered — OK');
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.totals.jobsScanned).toBe(9);
  });
});

describe('with one of each violation seeded', () => {
  const ids: Record<string, string> = {};
  let report: AuditReport;
  let worker: Worker | undefined;
  const auditAt = () => ({ sql: ctx.sql, invoicesSql: ctx.invoicesSql, queues, settleMs: 60_000, lockDurationMs: 1000, now: new Date(Date.now() + 5000) });

  beforeAll(async () => {
    // Lost: an old order with no event at all; an old order whose event was never published.
    ids.orderWithoutEvent = await insertOrder('pending_payment', HOUR);
    ids.stalledOrder = await insertOrder('pending_payment', HOUR);
    ids.unpublishedEvent = await insertEvent(ids.stalledOrder, 'order.created', { ageMs: HOUR, published: false });
    // Lost: a delivered order the invoice consumer never billed; states whose rows are missing.
    ids.uninvoicedOrder = await insertOrder('delivered', HOUR, ['payment', 'delivery']);
    ids.paidEvent = await insertEvent(ids.uninvoicedOrder, 'order.paid', { ageMs: HOUR });
    ids.paidWithoutPayment = await insertOrder('paid', 0);
    ids.deliveredWithoutDelivery = await insertOrder('delivered', 0, ['payment', 'invoice']);
    // Lost: the gateway charged an order an hour ago that then failed payment for good.
    ids.chargedNotPaid = await insertOrder('payment_failed', HOUR);
    ids.chargedNotPaidKey = randomUUID();
    await ctx.sql`INSERT INTO gateway_charges (id, idempotency_key, order_id, amount_cents, created_at)
      VALUES (${randomUUID()}, ${ids.chargedNotPaidKey}, ${ids.chargedNotPaid}, 1000, now() - interval '1 hour')`;
    // Duplicated: a second charge at the gateway. Unexpected: a charge for an order that does not exist.
    ids.doubleCharged = await insertOrder('delivered', 0, ['payment', 'delivery', 'invoice']);
    ids.firstCharge = await insertCharge(ids.doubleCharged);
    ids.secondCharge = await insertCharge(ids.doubleCharged);
    ids.orphanCharge = await insertCharge(randomUUID());
    // Unexpected jobs: one naming an outbox id that does not exist, one with a generated id, one in
    // a queue its event is not routed to.
    ids.missingEvent = randomUUID();
    await queues.payments.add('order.created', jobData(ids.missingEvent, ids.stalledOrder, 'order.created'), { jobId: ids.missingEvent });
    ids.generatedJob = (await queues.payments.add('order.created', jobData(randomUUID(), ids.stalledOrder, 'order.created'))).id!;
    await queues.invoices.add('order.created', jobData(ids.unpublishedEvent, ids.stalledOrder, 'order.created'), { jobId: ids.unpublishedEvent });
    // Stuck and recovered, on an order that is otherwise fine.
    ids.goodOrder = await insertOrder('delivered', 0, ['payment', 'delivery', 'invoice', 'charge']);
    ids.deadEvent = await insertEvent(ids.goodOrder, 'order.delivered', { published: false, attempts: 10, dead: 'payload is 600000 bytes, over RELAY_MAX_PAYLOAD_BYTES' });
    ids.retriedEvent = await insertEvent(ids.goodOrder, 'order.delivered', { attempts: 2 });
    ids.republishedEvent = await insertEvent(ids.goodOrder, 'order.delivered', { republished: 1 });
    worker = await seedJobStates(ids);
    report = await runAudit(auditAt());
  });
  afterAll(async () => {
    await worker?.close(true);
  });

  it('counts each violation once and is not ok', () => {
    expect(report.counts).toEqual({ lost: 7, duplicated: 1, unexpected: 4, stuck: 3, recovered: 3 });
    expect(report.ok).toBe(false);
  });

  it('finds lost orders, events, invoices, payments and deliveries', () => {
    expectItem(report, 'lost', { kind: 'order_not_final', orderId: ids.orderWithoutEvent }, 'no outbox event');
    expectItem(report, 'lost', { kind: 'order_not_final', orderId: ids.stalledOrder, outboxId: ids.unpublishedEvent }, 'not published yet');
    expectItem(report, 'lost', { kind: 'outbox_unpublished', outboxId: ids.unpublishedEvent, orderId: ids.stalledOrder }, 'relay');
    expectItem(report, 'lost', { kind: 'invoice_missing', orderId: ids.uninvoicedOrder, queue: 'invoices', jobId: ids.paidEvent }, 'no invoice');
    expectItem(report, 'lost', { kind: 'payment_missing', orderId: ids.paidWithoutPayment }, 'no payments row');
    expectItem(report, 'lost', { kind: 'delivery_missing', orderId: ids.deliveredWithoutDelivery }, 'no deliveries row');
    expectItem(report, 'lost', { kind: 'charge_without_payment', orderId: ids.chargedNotPaid, outboxId: ids.chargedNotPaidKey }, 'refund the charge');
  });

  it('finds the double charge with both charge ids', () => {
    expectItem(report, 'duplicated', { kind: 'duplicate_effect', orderId: ids.doubleCharged, table: 'gateway_charges', rowIds: [ids.firstCharge, ids.secondCharge] }, 'refund');
  });

  it('finds the charge without an order and the jobs the relay did not add', () => {
    expectItem(report, 'unexpected', { kind: 'orphan_effect', table: 'gateway_charges', rowIds: [ids.orphanCharge] }, 'does not exist');
    expectItem(report, 'unexpected', { kind: 'orphan_job', queue: 'payments', jobId: ids.missingEvent, outboxId: ids.missingEvent }, 'does not exist');
    expectItem(report, 'unexpected', { kind: 'orphan_job', queue: 'payments', jobId: ids.generatedJob }, 'relay did not add it');
    expectItem(report, 'unexpected', { kind: 'job_mismatch', queue: 'invoices', jobId: ids.unpublishedEvent }, 'not routed to queue invoices');
  });

  it('lists stuck work with its reason, without making it a violation unless strict', async () => {
    expectItem(report, 'stuck', { kind: 'outbox_dead', outboxId: ids.deadEvent, orderId: ids.goodOrder }, 'RELAY_MAX_PAYLOAD_BYTES');
    expectItem(report, 'stuck', { kind: 'job_failed', queue: 'deliveries', jobId: ids.failedJob, orderId: ids.goodOrder }, '1 attempt(s): courier exploded');
    expectItem(report, 'stuck', { kind: 'job_active_too_long', queue: 'deliveries', jobId: ids.activeJob }, 'lock duration');
    expect((await runAudit({ ...auditAt(), strict: true })).strict).toBe(true);
  });

  it('lists what healed: a publish retry, a re-publication, a job retry', () => {
    expectItem(report, 'recovered', { kind: 'outbox_publish_retried', outboxId: ids.retriedEvent }, '2 failed publish attempt(s)');
    expectItem(report, 'recovered', { kind: 'outbox_publish_retried', outboxId: ids.republishedEvent }, 're-published it 1 time(s)');
    expectItem(report, 'recovered', { kind: 'job_retried', queue: 'deliveries', jobId: ids.retriedJob }, 'completed after 2 attempts');
  });

  it('counts everything but lists at most `limit` per category, and pages through jobs', async () => {
    const limited = await runAudit({ ...auditAt(), limit: 1, pageSize: 2 });
    expect(limited.counts).toEqual(report.counts);
    expect(limited.totals).toEqual(report.totals);
    for (const items of Object.values(limited.items)) expect(items.length).toBe(1);
  });

  it('does not count a job whose row is missing once it is older than the outbox retention', async () => {
    // A retention of 1 ms: the forged job with a UUID id now looks like one whose row was pruned;
    // the job with a generated id and the misrouted one are still unexpected.
    const pruned = await runAudit({ ...auditAt(), outboxRetentionMs: 1 });
    expect(pruned.counts.unexpected).toBe(report.counts.unexpected - 1);
    expect(pruned.totals.jobsPastRetention).toBe(1);
    expect(pruned.items.unexpected.map((i) => i.jobId)).not.toContain(ids.missingEvent);
    expect(pruned.items.unexpected.map((i) => i.jobId)).toContain(ids.generatedJob);
  });

  it('does not count a job added just past the retention horizon whose row is missing: retention may have taken it too', async () => {
    // Rows are pruned by their creation, jobs are added after their rows by the relay's lag, and
    // retention goes on while the audit runs: within a margin past the horizon, a missing row is
    // not evidence of a forged job. A retention of 55 s puts the forged job (added at the start of this file) there.
    const nearHorizon = await runAudit({ ...auditAt(), outboxRetentionMs: 55_000 });
    expect(nearHorizon.items.unexpected.map((i) => i.jobId)).not.toContain(ids.missingEvent);
    expect(nearHorizon.items.unexpected.map((i) => i.jobId)).toContain(ids.generatedJob);
  });

  it('the CLI exits 1 and names what is wrong', async () => {
    const { code, output, report: written } = await cliReport(['--settle-ms', '60000', '--limit', '50']);
    expect(output).toContain('7 lost, 1 duplicated, 4 unexpected');
    expect(output).toContain('FAILED');
    expect(output).toContain(ids.orderWithoutEvent);
    expect(code).toBe(1);
    expect(written.ok).toBe(false);
    expect(written.counts.duplicated).toBe(1);
  });
});

describe('with the invoices in their own database', () => {
  let sep: TestContext;
  let sepQueues: Queues;
  const ids: Record<string, string> = {};
  const good: string[] = [];
  let clean: AuditReport;
  let report: AuditReport;
  const auditAt = () => ({ sql: sep.sql, invoicesSql: sep.invoicesSql, queues: sepQueues, settleMs: 60_000, lockDurationMs: 1000, now: new Date(Date.now() + 5000) });

  beforeAll(async () => {
    sep = await createTestContext({}, { separateInvoices: true });
    sepQueues = createOrderQueues(sep.redis, sep.config);
    // Correct pairs: delivered orders whose invoice is in the invoice service's database. Five, so
    // the cross-database pages of two below take more than one page.
    for (let i = 0; i < 5; i++) {
      const id = await insertOrder('delivered', HOUR, ['payment', 'delivery', 'invoice', 'charge'], sep);
      await insertEvent(id, 'order.paid', { ageMs: HOUR }, sep);
      good.push(id);
    }
    clean = await runAudit(auditAt());
    // Lost: a delivered order with no invoice in the invoices database.
    ids.uninvoicedOrder = await insertOrder('delivered', HOUR, ['payment', 'delivery', 'charge'], sep);
    ids.paidEvent = await insertEvent(ids.uninvoicedOrder, 'order.paid', { ageMs: HOUR }, sep);
    // Unexpected: an invoice for an order that does not exist (no foreign key can stop it now), and
    // a charge for one, from the orders database, so both sides of the orphan check are merged.
    ids.missingOrder = randomUUID();
    ids.orphanInvoice = await insertInvoice(ids.missingOrder, new Date(Date.now() - HOUR), sep);
    ids.orphanCharge = await insertCharge(randomUUID(), sep);
    report = await runAudit(auditAt());
  });
  afterAll(async () => {
    if (sepQueues) await closeQueues(sepQueues);
    await sep?.cleanup();
  });

  it('really is another database: the orders database has no invoices table to join', async () => {
    expect(sep.invoicesSql).not.toBe(sep.sql);
    const [row] = await sep.sql<{ t: string | null }[]>`SELECT to_regclass('invoices')::text AS t`;
    expect(row!.t).toBeNull();
  });

  it('is clean when every delivered order has its invoice there', () => {
    expect(clean.counts).toEqual({ lost: 0, duplicated: 0, unexpected: 0, stuck: 0, recovered: 0 });
    expect(clean.ok).toBe(true);
    expect(clean.totals.orders).toBe(5);
  });

  it('finds the order without an invoice as lost, and the invoice without an order as unexpected', () => {
    expect(report.counts).toEqual({ lost: 1, duplicated: 0, unexpected: 2, stuck: 0, recovered: 0 });
    expect(report.ok).toBe(false);
    expectItem(report, 'lost', { kind: 'invoice_missing', orderId: ids.uninvoicedOrder, outboxId: ids.paidEvent, queue: 'invoices', jobId: ids.paidEvent }, 'no invoice');
    expectItem(report, 'unexpected', { kind: 'orphan_effect', orderId: ids.missingOrder, table: 'invoices', rowIds: [ids.orphanInvoice] }, 'does not exist');
    expectItem(report, 'unexpected', { kind: 'orphan_effect', table: 'gateway_charges', rowIds: [ids.orphanCharge] }, 'does not exist');
    const named = Object.values(report.items)
      .flat()
      .map((item) => item.orderId);
    for (const id of good) expect(named).not.toContain(id);
  });

  it('comes to the same counts in small pages, and lists the oldest first within the limit', async () => {
    const paged = await runAudit({ ...auditAt(), lookupPageSize: 2 });
    expect(paged.counts).toEqual(report.counts);
    expect(paged.items).toEqual(report.items);
    const limited = await runAudit({ ...auditAt(), lookupPageSize: 2, limit: 1 });
    expect(limited.counts).toEqual(report.counts);
    // The orphan invoice is an hour old, the orphan charge new.
    expect(limited.items.unexpected.map((i) => i.table)).toEqual(['invoices']);
  });

  it('the CLI opens the invoices database from INVOICES_DATABASE_URL and finds the same', async () => {
    expect(sep.env.INVOICES_DATABASE_URL).toBeDefined();
    const { code, output, report: written } = await cliReport(['--settle-ms', '60000'], sep.env);
    expect(output).toContain('1 lost, 0 duplicated, 2 unexpected');
    expect(code).toBe(1);
    expect(written.items.lost.map((i) => i.orderId)).toEqual([ids.uninvoicedOrder]);
    expect(written.items.unexpected.map((i) => i.table).sort()).toEqual(['gateway_charges', 'invoices']);
  });

  it('the CLI exits 2 when the invoices database cannot be reached, saying so', async () => {
    const { code, output } = await runCli([], { ...sep.env, INVOICES_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', PG_CONNECT_TIMEOUT_S: '2' });
    expect(code).toBe(2);
    expect(output).toContain('cannot reach the invoices database at postgres://127.0.0.1:1/nowhere');
  });
});

describe('the CLI refuses to guess', () => {
  it('exits 2 on a bad flag, with the usage', async () => {
    const { code, output } = await runCli(['--settle-ms', 'soon']);
    expect(code).toBe(2);
    expect(output).toContain('--settle-ms expects a whole number');
    expect(output).toContain('Usage:');
  });

  it('exits 2 when Postgres cannot be reached, saying so', async () => {
    const { code, output } = await runCli([], { ...ctx.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', PG_CONNECT_TIMEOUT_S: '2' });
    expect(code).toBe(2);
    expect(output).toContain('cannot reach Postgres at postgres://127.0.0.1:1/nowhere');
  });
});

function expectItem(report: AuditReport, category: Category, ids: Partial<Record<keyof AuditItem, unknown>>, reason: string): void {
  const found = report.items[category].find((item) => Object.entries(ids).every(([k, v]) => JSON.stringify(item[k as keyof AuditItem]) === JSON.stringify(v)));
  expect(found, `${category} item ${JSON.stringify(ids)} in ${JSON.stringify(report.items[category], null, 1)}`).toBeDefined();
  expect(found!.reason).toContain(reason);
}

async function statusOf(id: string): Promise<string | undefined> {
  const [row] = await ctx.sql<{ status: string }[]>`SELECT status FROM orders WHERE id = ${id}`;
  return row?.status;
}

type Effect = 'payment' | 'delivery' | 'invoice' | 'charge';

// Seeds `c` (the file's context unless given); the invoice goes to the invoice service's database.
async function insertOrder(status: string, ageMs: number, effects: Effect[] = [], c: TestContext = ctx): Promise<string> {
  const id = randomUUID();
  const at = new Date(Date.now() - ageMs);
  await c.sql`
    INSERT INTO orders (id, customer_name, address, items, total_cents, status, created_at, updated_at)
    VALUES (${id}, 'Audit seed', '4 Seed St', '[]'::jsonb, 1000, ${status}, ${at}, ${at})`;
  if (effects.includes('payment'))
    await c.sql`INSERT INTO payments (id, order_id, charge_id, amount_cents, created_at) VALUES (${randomUUID()}, ${id}, ${randomUUID()}, 1000, ${at})`;
  if (effects.includes('delivery')) await c.sql`INSERT INTO deliveries (id, order_id, courier, dispatched_at) VALUES (${randomUUID()}, ${id}, 'Ada', ${at})`;
  if (effects.includes('invoice')) await insertInvoice(id, at, c);
  if (effects.includes('charge')) await insertCharge(id, c);
  return id;
}

async function insertInvoice(orderId: string, at: Date, c: TestContext = ctx): Promise<string> {
  const id = randomUUID();
  await c.invoicesSql`INSERT INTO invoices (id, order_id, number, amount_cents, customer_name, created_at)
    VALUES (${id}, ${orderId}, ${`INV-T-${orderId}`}, 1000, 'Audit seed', ${at})`;
  return id;
}

async function insertCharge(orderId: string, c: TestContext = ctx): Promise<string> {
  const id = randomUUID();
  // Distinct timestamps, so the report's oldest-first order of row ids is the insertion order.
  await new Promise((r) => setTimeout(r, 2));
  await c.sql`INSERT INTO gateway_charges (id, idempotency_key, order_id, amount_cents) VALUES (${id}, ${randomUUID()}, ${orderId}, 1000)`;
  return id;
}

interface EventSeed {
  ageMs?: number;
  published?: boolean;
  attempts?: number;
  republished?: number;
  dead?: string;
}

async function insertEvent(orderId: string, eventType: string, seed: EventSeed = {}, c: TestContext = ctx): Promise<string> {
  const id = randomUUID();
  const at = new Date(Date.now() - (seed.ageMs ?? 0));
  const published = (seed.published ?? true) ? at : null;
  await c.sql`
    INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, created_at, published_at, attempts, republished, last_error, dead_at)
    VALUES (${id}, 'order', ${orderId}, ${eventType}, ${c.sql.json({ order_id: orderId })}, ${at}, ${published},
            ${seed.attempts ?? 0}, ${seed.republished ?? 0}, ${seed.dead ?? null}, ${seed.dead ? at : null})`;
  return id;
}

function jobData(outboxId: string, orderId: string, eventType: string) {
  return { outboxId, eventType, aggregateId: orderId, payload: {}, headers: {} };
}

// Puts three deliveries jobs in the states a crash or a bad dependency leaves behind: failed for
// good, completed after a retry, and active with nobody working on it. A Worker without a
// processor moves jobs by hand, so no timing is involved.
async function seedJobStates(ids: Record<string, string>): Promise<Worker> {
  // A plain queue: no default backoff, so a retried job is back in wait at once.
  const deliveries = new Queue('deliveries', { connection: ctx.redis, prefix: ctx.config.QUEUE_PREFIX });
  const worker = new Worker('deliveries', null, { connection: workerRedisOptions(ctx.env.REDIS_URL!), prefix: ctx.config.QUEUE_PREFIX, autorun: false });
  const token = randomUUID();
  const take = async (id: string) => {
    const job = await worker.getNextJob(token, { block: false });
    expect(job?.id).toBe(id);
    return job!;
  };
  const addPaid = async (key: string, attempts: number) => {
    ids[key] = await insertEvent(ids.goodOrder!, 'order.paid');
    await deliveries.add('order.paid', jobData(ids[key]!, ids.goodOrder!, 'order.paid'), { jobId: ids[key], attempts });
    return ids[key]!;
  };
  try {
    const failed = await addPaid('failedJob', 1);
    await (await take(failed)).moveToFailed(new Error('courier exploded'), token);
    const retried = await addPaid('retriedJob', 2);
    await (await take(retried)).moveToFailed(new Error('courier late'), token);
    await (await take(retried)).moveToCompleted({ outcome: 'done' }, token);
    await take(await addPaid('activeJob', 1));
  } finally {
    await deliveries.close();
  }
  return worker;
}
