// `npm run demo -- --orders 500 --rate 50`: places orders against a running service, shows each
// stage live, then a summary and the audit's verdict. Progress and summary go to stdout, problems
// to stderr. Exit 0: every order settled and the audit is OK; 1: orders did not settle in time,
// could not be placed, or the audit found violations; 2: usage, configuration or connection error;
// 130: interrupted with Ctrl-C (a second Ctrl-C exits at once).
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { checkToolConnections, closeToolConnections, openToolConnections, SetupError, type ToolConnections } from '../tool-connections.ts';
import { parseDemoArgs, usage, UsageError, type DemoArgs } from './args.ts';
import { runDemo } from './run.ts';
import { checkInvoicesSql, closeInvoicesSql, openInvoicesSql } from '../audit/invoices-db.ts';
import type { Sql } from '../db/client.ts';

const SERVICE_TIMEOUT_MS = 5000;

async function main(argv: readonly string[]): Promise<number> {
  let config: Config | undefined;
  let configError: ConfigError | undefined;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    configError = err;
  }
  const defaultUrl = `http://localhost:${config?.PORT ?? 8080}`;
  let args: DemoArgs;
  try {
    args = parseDemoArgs(argv, defaultUrl);
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message}\n\n${usage(defaultUrl)}`);
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${usage(defaultUrl)}\n`);
    return 0;
  }
  if (!config) return fail(configError!.message);

  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    interrupt.abort();
    process.once('SIGINT', () => {
      // The bars hid the cursor and turned line wrapping off: give the terminal back.
      if (process.stdout.isTTY) process.stdout.write('\x1b[?25h\x1b[?7h\n');
      process.exit(130);
    });
  });

  let resources: ToolConnections | undefined;
  let invoicesSql: Sql | undefined;
  try {
    await checkService(args.url);
    resources = openToolConnections(config, 'outbox-demo', 3);
    await checkToolConnections(config, resources, {
      database: "The demo follows its orders there: set DATABASE_URL to the service's database",
      redis: "Set REDIS_URL to the service's Redis.",
    });
    invoicesSql = openInvoicesSql(config, 'outbox-demo');
    if (invoicesSql) await checkInvoicesSql(config, invoicesSql);
    return await runDemo({ args, config, sql: resources.sql, invoicesSql: invoicesSql ?? resources.sql, queues: resources.queues, out: process.stdout, signal: interrupt.signal });
  } catch (err) {
    if (err instanceof SetupError) return fail(err.message);
    return fail(`the demo could not finish: ${(err as Error).message ?? String(err)}. Check that the service, Postgres and Redis are running.`);
  } finally {
    await closeInvoicesSql(invoicesSql);
    if (resources) await closeToolConnections(resources);
  }
}

async function checkService(url: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(SERVICE_TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new SetupError(`the service at ${url} is not answering (${cause}): start it with npm start, or point --url at it.`);
  }
  if (res.status === 503) {
    const body = (await res.json().catch(() => ({}))) as { checks?: Record<string, string> };
    const down = Object.entries(body.checks ?? {})
      .filter(([, v]) => v !== 'ok')
      .map(([k, v]) => `${k}: ${v}`);
    throw new SetupError(`the service at ${url} is up but not ready${down.length ? ` (${down.join('; ')})` : ''}: start Postgres and Redis, then try again.`);
  }
  if (!res.ok) throw new SetupError(`${url} does not look like the order service (GET /health/ready answered ${res.status}): check --url.`);
}

function fail(message: string): number {
  process.stderr.write(`demo: ${message}\n`);
  return 2;
}

// Exit explicitly: idle keep-alive sockets of fetch must not hold the process open.
process.exit(await main(process.argv.slice(2)));
