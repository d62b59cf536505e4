// The outbox gauges, read from Postgres at scrape time. Every process with the database exports
// them (API, relay, workers), so when every relay is down the lag still shows, growing, on the API.
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/client.ts';
import { cachedReading } from './scrape-cache.ts';

export interface OutboxStats {
  // Rows still to publish: due now, or waiting out a publish failure's backoff.
  pending: number;
  due: number;
  // Pending rows that failed to publish at least once (not dead yet): a poison row shows here as
  // itself, not as lag.
  backingOff: number;
  dead: number;
  // Since the oldest due row became due (its `available_at`: its insert, or the end of its
  // backoff, or its requeue). 0 with nothing due.
  oldestDueAgeSeconds: number;
}

// One statement over the pending rows (the partial index outbox_unpublished_idx) and the dead ones
// (outbox_dead_idx).
export async function readOutboxStats(db: Db): Promise<OutboxStats> {
  const [row] = await db<{ pending: number; due: number; backing_off: number; dead: number; oldest_due_age: number | null }[]>`
    SELECT
      count(*)::int AS pending,
      count(*) FILTER (WHERE available_at <= now())::int AS due,
      count(*) FILTER (WHERE attempts > 0)::int AS backing_off,
      greatest(0, extract(epoch FROM now() - min(available_at) FILTER (WHERE available_at <= now())))::float8 AS oldest_due_age,
      (SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL)::int AS dead
    FROM outbox
    WHERE published_at IS NULL AND dead_at IS NULL`;
  return { pending: row!.pending, due: row!.due, backingOff: row!.backing_off, dead: row!.dead, oldestDueAgeSeconds: row!.oldest_due_age ?? 0 };
}

// Registers the gauges once per registry (the relay role asks too, for a service that composes its
// own processes). With Postgres away a scrape still answers: the outbox gauges read NaN and
// postgres_up reads 0.
export function registerOutboxGauges(registry: Registry, read: () => Promise<OutboxStats>): void {
  if (registry.getSingleMetric('outbox_pending_rows')) return;
  const stats = cachedReading(read);
  const registers = [registry];
  const gauge = (name: string, help: string, pick: (s: OutboxStats) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const s = await stats();
        // NaN, not a stale or zero value: "no reading" must not read as "nothing pending".
        this.set(s ? pick(s) : Number.NaN);
      },
    });
  gauge('outbox_pending_rows', 'Outbox rows still to publish (due now or backing off after a failed publish)', (s) => s.pending);
  gauge('outbox_due_rows', 'Outbox rows a relay should publish now', (s) => s.due);
  gauge('outbox_backing_off_rows', 'Outbox rows that failed to publish and wait to be retried (not dead yet)', (s) => s.backingOff);
  gauge('outbox_dead_rows', 'Outbox rows marked dead: never retried until an operator requeues them', (s) => s.dead);
  gauge('outbox_oldest_pending_age_seconds', 'Seconds since the oldest due row became due: the relay lag', (s) => s.oldestDueAgeSeconds);
  new Gauge({
    name: 'postgres_up',
    help: '1 when the outbox gauges could be read from Postgres at this scrape, else 0',
    registers,
    async collect() {
      this.set((await stats()) ? 1 : 0);
    },
  });
}
