// The audit's vocabulary: categories, finding kinds, the report, and the collector that counts
// every finding but keeps only the first `limit` per category, so a disaster with 100k lost
// orders still produces a small report.

export const CATEGORIES = ['lost', 'duplicated', 'unexpected', 'stuck', 'recovered'] as const;
export type Category = (typeof CATEGORIES)[number];

// Always violations. `stuck` joins them in strict mode; `recovered` is good news, never a violation.
export const VIOLATIONS: readonly Category[] = ['lost', 'duplicated', 'unexpected'];

export type AuditKind =
  // lost
  | 'order_not_final'
  | 'outbox_unpublished'
  | 'invoice_missing'
  | 'payment_missing'
  | 'delivery_missing'
  | 'charge_without_payment'
  // duplicated
  | 'duplicate_effect'
  // unexpected
  | 'orphan_effect'
  | 'orphan_job'
  | 'job_mismatch'
  // stuck
  | 'outbox_dead'
  | 'job_failed'
  | 'job_active_too_long'
  // recovered
  | 'outbox_publish_retried'
  | 'job_retried';

export type EffectTable = 'gateway_charges' | 'payments' | 'deliveries' | 'invoices';

// One finding. The ids present depend on the kind: an order check names the order (and the
// outbox event to look at), a job check names the queue and the job, an effect check the table
// and its row ids.
export interface AuditItem {
  kind: AuditKind;
  reason: string;
  orderId?: string;
  outboxId?: string;
  queue?: string;
  jobId?: string;
  table?: EffectTable;
  rowIds?: string[];
}

export interface AuditTotals {
  orders: number;
  outboxRows: number;
  jobsScanned: number;
  // Jobs that outlived their outbox row by retention (not checked for a row; see jobs.ts).
  jobsPastRetention: number;
}

export interface AuditReport {
  // True iff lost, duplicated and unexpected are all 0 (and, in strict mode, stuck too).
  ok: boolean;
  strict: boolean;
  checkedAt: string;
  settleMs: number;
  lockDurationMs: number;
  // Every finding is counted, also those beyond `limit`.
  counts: Record<Category, number>;
  // At most `limit` findings per category, oldest first within each check.
  items: Record<Category, AuditItem[]>;
  limit: number;
  totals: AuditTotals;
}

export interface FindingCollector {
  add(category: Category, item: AuditItem): void;
  // For checks that counted their findings in SQL and fetched only the first few.
  addCounted(category: Category, total: number, items: readonly AuditItem[]): void;
  counts(): Record<Category, number>;
  items(): Record<Category, AuditItem[]>;
}

const perCategory = <T>(make: () => T) => Object.fromEntries(CATEGORIES.map((c) => [c, make()])) as Record<Category, T>;

export function createCollector(limit: number): FindingCollector {
  const counts = perCategory(() => 0);
  const items = perCategory<AuditItem[]>(() => []);
  const keep = (category: Category, item: AuditItem) => {
    if (items[category].length < limit) items[category].push(item);
  };
  return {
    add(category, item) {
      counts[category] += 1;
      keep(category, item);
    },
    addCounted(category, total, found) {
      counts[category] += Math.max(total, found.length);
      for (const item of found) keep(category, item);
    },
    counts: () => ({ ...counts }),
    items: () => Object.fromEntries(CATEGORIES.map((c) => [c, [...items[c]]])) as Record<Category, AuditItem[]>,
  };
}

export function countedCategories(strict: boolean): readonly Category[] {
  return strict ? [...VIOLATIONS, 'stuck'] : VIOLATIONS;
}

export function isOk(counts: Record<Category, number>, strict: boolean): boolean {
  return countedCategories(strict).every((c) => counts[c] === 0);
}
