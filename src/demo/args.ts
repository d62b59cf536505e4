// The demo's flags, parsed strictly: an unknown flag or a bad number is a usage error (exit 2).
import { UsageError } from '../tool-connections.ts';
import { parseArgs } from 'node:util';

export interface DemoArgs {
  orders: number;
  rate: number; // orders per second
  url: string; // the service's base URL, without a trailing slash
  timeoutS: number; // how long to wait for orders to settle after the last one is placed
  concurrency: number; // most requests in flight at once
  seed: number; // the order mix's random seed
  help: boolean;
}

export const DEFAULTS = { orders: 100, rate: 50, timeoutS: 60, concurrency: 64 } as const;

export const usage = (defaultUrl: string) => `Usage: npm run demo -- [--orders N] [--rate R] [--url URL] [--timeout-s S] [--concurrency C] [--seed N]

Places orders against a running service at a steady rate, shows each stage (created, paid,
delivered, invoiced, failed) as it happens, then prints a summary and the audit's verdict.

  --orders N       how many orders to place (default ${DEFAULTS.orders})
  --rate R         orders per second, sent on a schedule whatever the responses (default ${DEFAULTS.rate})
  --url URL        the service (default ${defaultUrl}, from PORT)
  --timeout-s S    how long to wait for orders to settle after the last is placed (default ${DEFAULTS.timeoutS})
  --concurrency C  most requests in flight at once (default ${DEFAULTS.concurrency})
  --seed N         seed of the random order mix, to repeat a run (default: random, printed)

Reads DATABASE_URL, REDIS_URL and QUEUE_PREFIX like the service: use the same values. Start the
service with ORDER_RATE_LIMIT_PER_MINUTE=0: its per-client limit (60 a minute) refuses the rest.
Exit status: 0 every order settled and the audit is OK; 1 orders did not settle in time, could
not be placed, or the audit found violations; 2 usage, configuration or connection error.`;

export { UsageError };

export function parseDemoArgs(argv: readonly string[], defaultUrl: string, randomSeed: () => number = () => Math.floor(Math.random() * 2 ** 31)): DemoArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        orders: { type: 'string' },
        rate: { type: 'string' },
        url: { type: 'string' },
        'timeout-s': { type: 'string' },
        concurrency: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  const int = (flag: string, raw: string | undefined, fallback: number, min: number, max: number) =>
    raw === undefined ? fallback : checkRange(flag, parseWhole(flag, raw), min, max, raw);
  return {
    orders: int('--orders', values.orders, DEFAULTS.orders, 1, 100_000),
    rate: values.rate === undefined ? DEFAULTS.rate : parseRate(values.rate),
    url: parseUrl(values.url ?? defaultUrl),
    timeoutS: int('--timeout-s', values['timeout-s'], DEFAULTS.timeoutS, 1, 86_400),
    concurrency: int('--concurrency', values.concurrency, DEFAULTS.concurrency, 1, 10_000),
    seed: values.seed === undefined ? randomSeed() : int('--seed', values.seed, 0, 0, 2 ** 32 - 1),
    help: values.help ?? false,
  };
}

function parseWhole(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`${flag} expects a whole number, got "${raw}"`);
  return Number(raw);
}

function checkRange(flag: string, n: number, min: number, max: number, raw: string): number {
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be from ${min} to ${max}, got "${raw}"`);
  return n;
}

function parseRate(raw: string): number {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(n > 0) || n > 100_000) throw new UsageError(`--rate expects orders per second above 0 (at most 100000), got "${raw}"`);
  return n;
}

function parseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--url expects a URL like http://localhost:8080, got "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url must start with http:// or https://, got "${raw}"`);
  return u.toString().replace(/\/+$/, '');
}
