// The audit CLI's flags, parsed strictly: an unknown flag or a bad number is a usage error (exit 2),
// never a silently different audit.
import { UsageError } from '../tool-connections.ts';
import { parseArgs } from 'node:util';
import { DEFAULT_LIMIT } from './audit.ts';

export interface CliArgs {
  settleMs: number;
  strict: boolean;
  jsonFile?: string | undefined;
  limit: number;
  help: boolean;
}

export const DEFAULT_SETTLE_MS = 30_000;

export const USAGE = `Usage: npm run -s audit -- [--settle-ms N] [--strict] [--json FILE] [--limit N]

Checks across Postgres and Redis that no order, event or effect was lost, doubled or made up.
Prints the JSON report on stdout (or writes it to FILE) and a summary on stderr.

  --settle-ms N  work younger than N ms is in flight, not lost (default ${DEFAULT_SETTLE_MS})
  --strict       stuck work (dead events, failed or stalled jobs) counts as a violation
  --json FILE    write the JSON report to FILE instead of stdout
  --limit N      list at most N items per category (default ${DEFAULT_LIMIT}; all are counted)

Exit status: 0 no violations, 1 violations, 2 usage or connection error.
Reads DATABASE_URL, INVOICES_DATABASE_URL (when the invoice service has its own database),
REDIS_URL, QUEUE_PREFIX and WORKER_LOCK_DURATION_MS like the service.`;

export { UsageError };

export function parseCliArgs(argv: readonly string[]): CliArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'settle-ms': { type: 'string' },
        strict: { type: 'boolean', default: false },
        json: { type: 'string' },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  if (values.json === '') throw new UsageError('--json needs a file name');
  return {
    settleMs: values['settle-ms'] === undefined ? DEFAULT_SETTLE_MS : integer('--settle-ms', values['settle-ms'], 0),
    strict: values.strict ?? false,
    jsonFile: values.json,
    limit: values.limit === undefined ? DEFAULT_LIMIT : integer('--limit', values.limit, 0),
    help: values.help ?? false,
  };
}

function integer(flag: string, raw: string, min: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`${flag} expects a whole number, got "${raw}"`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be at least ${min}, got "${raw}"`);
  return n;
}
