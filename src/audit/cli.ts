// `npm run audit`: runs the audit oracle against the configured Postgres and Redis. The JSON report
// goes to stdout (or --json FILE), the human summary to stderr, so `npm run -s audit > report.json`
// still shows the verdict. Exit 0: no violations; 1: violations; 2: usage, config or connection error.
// With INVOICES_DATABASE_URL set, the invoice service's database is opened too (a second, one-
// connection pool) and the invoices are checked against the orders across the two.
import { writeFile } from 'node:fs/promises';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { checkToolConnections, closeToolConnections, openToolConnections, SetupError } from '../tool-connections.ts';
import { runAudit } from './audit.ts';
import { parseCliArgs, UsageError, USAGE, type CliArgs } from './cli-args.ts';
import { checkInvoicesSql, closeInvoicesSql, openInvoicesSql } from './invoices-db.ts';
import { formatSummary } from './summary.ts';

// A problem with how the audit was started (not a finding) is a SetupError or UsageError: exit 2 with its message.

async function main(argv: readonly string[]): Promise<number> {
  let args: CliArgs;
  let config: Config;
  try {
    args = parseCliArgs(argv);
    if (args.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    config = loadConfig();
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n\n${USAGE}`);
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }

  const resources = openToolConnections(config, 'outbox-audit');
  const invoicesSql = openInvoicesSql(config, 'outbox-audit');
  try {
    await checkToolConnections(config, resources, { database: 'Check DATABASE_URL and that Postgres is running', redis: 'Check REDIS_URL and that Redis is running.' });
    if (invoicesSql) await checkInvoicesSql(config, invoicesSql);
    const report = await runAudit({
      sql: resources.sql,
      invoicesSql,
      queues: resources.queues,
      settleMs: args.settleMs,
      lockDurationMs: config.WORKER_LOCK_DURATION_MS,
      limit: args.limit,
      strict: args.strict,
      outboxRetentionMs: config.OUTBOX_RETENTION_S * 1000,
    });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (args.jsonFile) await writeFile(args.jsonFile, json);
    else process.stdout.write(json);
    process.stderr.write(`${formatSummary(report)}\n${args.jsonFile ? `JSON report written to ${args.jsonFile}\n` : ''}`);
    return report.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof SetupError) return fail(err.message);
    return fail(`audit could not finish: ${(err as Error).message ?? String(err)}`);
  } finally {
    await closeToolConnections(resources);
    await closeInvoicesSql(invoicesSql);
  }
}

function fail(message: string): number {
  process.stderr.write(`audit: ${message}\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
