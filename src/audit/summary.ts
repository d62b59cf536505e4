// The human side of the report: one verdict line a person can read at a glance, then what is
// wrong with what to do next. The JSON report has everything; this shows the first few per category.
import { formatDuration } from './reasons.ts';
import { countedCategories, type AuditItem, type AuditReport, type Category } from './report.ts';

const SHOWN_PER_CATEGORY = 10;

const MEANING: Record<Category, string> = {
  lost: 'work that should have finished and did not',
  duplicated: 'an effect that happened more than once',
  unexpected: 'rows or jobs that nothing should have made',
  stuck: 'waiting for a person',
  recovered: 'went wrong, then healed by a retry',
};

// "0 lost, 0 duplicated, 0 unexpected, 2 stuck, 5 recovered — OK"
export function verdictLine(report: AuditReport): string {
  const c = report.counts;
  const counts = `${c.lost} lost, ${c.duplicated} duplicated, ${c.unexpected} unexpected, ${c.stuck} stuck, ${c.recovered} recovered`;
  if (report.ok) return `${counts} — OK`;
  const onlyStuck = report.strict && c.lost + c.duplicated + c.unexpected === 0;
  return `${counts} — FAILED${onlyStuck ? ' (strict: stuck counts as a violation)' : ''}`;
}

export function formatSummary(report: AuditReport): string {
  const t = report.totals;
  const lines = [
    `Audit at ${report.checkedAt}: ${t.orders} orders, ${t.outboxRows} outbox rows, ${t.jobsScanned} jobs scanned${pastRetention(t.jobsPastRetention)}; settle time ${formatDuration(report.settleMs)}.`,
    verdictLine(report),
  ];
  const counted = countedCategories(report.strict);
  // Recovered items are good news: counted above, listed only in the JSON report.
  for (const category of ['lost', 'duplicated', 'unexpected', 'stuck'] as const) {
    const count = report.counts[category];
    if (count === 0) continue;
    const note = counted.includes(category) ? '' : ' (not a violation; --strict counts it)';
    lines.push('', `${category.toUpperCase()} ${count}: ${MEANING[category]}${note}`);
    const items = report.items[category];
    for (const item of items.slice(0, SHOWN_PER_CATEGORY)) lines.push(`  - ${itemLine(item)}`);
    const shown = Math.min(items.length, SHOWN_PER_CATEGORY);
    if (count > shown) lines.push(`  … ${shown > 0 ? `and ${count - shown} more` : `${count} not listed`}${moreHint(count, items.length)}`);
  }
  if (!report.ok) lines.push('', 'Next: act on each reason above, then run the audit again.');
  return lines.join('\n');
}

const pastRetention = (n: number) => (n > 0 ? ` (${n} outlived their outbox row by retention, not checked for it)` : '');

function moreHint(count: number, listed: number): string {
  if (count <= listed) return ' in the JSON report';
  return listed > 0 ? ` (the JSON report lists ${listed}; raise --limit for more)` : ' (raise --limit to list them)';
}

export function itemLine(item: AuditItem): string {
  const ids = [
    item.orderId && `order ${item.orderId}`,
    item.queue && item.jobId && `job ${item.queue}/${item.jobId}`,
    item.outboxId && item.outboxId !== item.jobId && `outbox ${item.outboxId}`,
    item.table && item.rowIds && `${item.table} ${item.rowIds.join(', ')}`,
  ].filter(Boolean);
  return `[${item.kind}] ${ids.join(', ')}: ${item.reason}`;
}
