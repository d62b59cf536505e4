// `npx tsx bench/micro/order-insert.ts`: what the engine's composable outbox insert costs on the
// API's hot path, measured in one process with the variants interleaved (robust on a busy host,
// where separate runs differ by more than the effect). CPU per order of this process (the
// postgres.js side of POST /orders, no HTTP):
//   before     the order and its event as one hand-written template (the code before the engine)
//   eventOnly  the same template, with the event built by the engine's newEvent()
//   after      insertOrderWithEvent with engine.eventInsert()'s fragment nested in it
// Uses the local Postgres (database micro_ab, created if missing).
import { randomUUID } from 'node:crypto';
import { createSql } from '../../src/db/client.ts';
import { ENGINE_MIGRATIONS, ORDER_MIGRATIONS, ensureDatabase, migrate } from '../../src/db/migrate.ts';
import { insertOrderWithEvent } from '../../src/db/orders.ts';
import { eventInsert, newEvent, storedHeaders } from '../../src/engine/events.ts';
import { eventHeadersFor } from '../../src/api/trace.ts';
const url = 'postgres://postgres@127.0.0.1:5432/micro_ab';
await ensureDatabase(url);
const sql = createSql({ url, max: 4, connectTimeoutS: 5 });
await migrate(sql, [ENGINE_MIGRATIONS, ORDER_MIGRATIONS]);
const items = [{ flavor: 'P', size: 'large', quantity: 2, unit_price_cents: 1999 }];
const before = async () => {
  const id = randomUUID();
  const h = eventHeadersFor(undefined, undefined);
  await sql`
    WITH inserted AS (
      INSERT INTO orders (id, customer_name, address, items, total_cents)
      VALUES (${id}, ${'A'}, ${'B'}, ${sql.json(items as never)}, ${3998})
      RETURNING *
    ), event AS (
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers)
      SELECT ${randomUUID()}, 'order', inserted.id, ${'order.created'}, ${sql.json({ order_id: id, total_cents: 3998 })}, ${sql.json(storedHeaders(h) as never)}
      FROM inserted
      RETURNING id AS event_id
    )
    SELECT inserted.*, event.event_id FROM inserted, event`;
};
const eventOnly = async () => {
  const id = randomUUID();
  const h = eventHeadersFor(undefined, undefined);
  const e = newEvent('order.created', { type: 'order', id }, { order_id: id, total_cents: 3998 }, h);
  await sql`
    WITH inserted AS (
      INSERT INTO orders (id, customer_name, address, items, total_cents)
      VALUES (${id}, ${'A'}, ${'B'}, ${sql.json(items as never)}, ${3998})
      RETURNING *
    ), event AS (
      INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, payload, headers)
      SELECT ${e.id}, ${e.aggregateType}, ${e.aggregateId}, ${e.type}, ${sql.json(e.payload as never)}, ${sql.json(e.headers)}
      RETURNING id
    )
    SELECT inserted.*, event.id AS event_id FROM inserted, event`;
};
const after = async () => {
  const id = randomUUID();
  const h = eventHeadersFor(undefined, undefined);
  const e = newEvent('order.created', { type: 'order', id }, { order_id: id, total_cents: 3998 }, h);
  await insertOrderWithEvent(sql, { id, customer_name: 'A', address: 'B', items: items as never, total_cents: 3998 }, eventInsert(sql, e));
};
async function round(fn: () => Promise<void>, n: number) {
  let i = 0;
  const c0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (i++ < n) await fn();
    }),
  );
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}
await round(before, 2000);
await round(after, 2000);
const res = { before: [] as number[], eventOnly: [] as number[], after: [] as number[] };
for (let r = 0; r < 10; r++) {
  res.before.push(await round(before, 2000));
  res.eventOnly.push(await round(eventOnly, 2000));
  res.after.push(await round(after, 2000));
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
console.log(
  Object.entries(res)
    .map(([k, v]) => `${k} ${med(v).toFixed(1)}`)
    .join(', '),
  'µs/order (medians of 10 interleaved rounds of 2000)',
);
await sql.end();
