// The one place the environment is read. Parsed once at start; a bad value stops the process with
// one line naming the variable. Tests pass their own `env` object instead of process.env.
import { z } from 'zod';
import { QUEUE_NAMES, type QueueName } from './orders/topology.ts';
import { FAULT_POINTS, type FaultPlan } from './fault-points.ts';
import { tlsProblems } from './tls.ts';

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'expected an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const rate = z
  .string()
  .trim()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'expected a number between 0 and 1')
  .transform(Number);

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      },
      `expected a URL starting with ${protocols.join(' or ')}//`,
    );

// "a, b,,c" → ['a', 'b', 'c']
const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

const queueList = commaList
  .transform((v) => [...new Set(v)])
  .pipe(z.array(z.enum(QUEUE_NAMES as [QueueName, ...QueueName[]])).min(1, `expected a comma-separated list of ${QUEUE_NAMES.join(', ')}`));

// Every variable is a string in the environment; defaults are strings too so the same parser runs.
export const configSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).prefault('postgres://postgres:postgres@localhost:5432/outbox'),
  // The invoice service's own database; unset, it keeps its tables beside the orders.
  INVOICES_DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  // HMAC keys events are signed with (comma-separated: the first signs, any verifies). Unset, the
  // relays and consumers of one database share a random key kept in it; a consumer in another
  // database (INVOICES_DATABASE_URL) needs it set, the same in every process.
  OUTBOX_SIGNING_KEY: commaList.pipe(z.array(z.string().min(32, 'each key must be at least 32 characters')).min(1, 'expected at least one key')).optional(),
  REDIS_URL: url(['redis:', 'rediss:']).prefault('redis://localhost:6379'),
  // host:port,host:port,… seed nodes of a Redis Cluster; when set it wins over REDIS_URL (whose
  // user and password still apply).
  REDIS_CLUSTER_NODES: commaList
    .pipe(
      z
        .array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'each node must be host:port'))
        .min(1, 'expected host:port,host:port,…')
        .transform((nodes) => nodes.map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) }))),
    )
    .optional(),
  // TLS to Redis (with a rediss:// REDIS_URL), as PEM files: the CA that signed Redis's certificate
  // (unset: the system's CAs), and a client certificate and key for a Redis that asks for one.
  // Checked at start (src/tls.ts), so a wrong path stops the process instead of every reconnect.
  // Postgres takes libpq's sslmode/sslrootcert/sslcert/sslkey in each of its URLs instead.
  REDIS_TLS_CA: z.string().trim().min(1).optional(),
  REDIS_TLS_CERT: z.string().trim().min(1).optional(),
  REDIS_TLS_KEY: z.string().trim().min(1).optional(),
  PORT: int(0, 65535).prefault('8080'),
  // Loopback by default, so `npm start` on a laptop is not reachable from the network; containers
  // set HOST=0.0.0.0 (the Dockerfile does).
  HOST: z.string().trim().min(1).prefault('127.0.0.1'),
  // /metrics for a relay or worker process running without the API (the API serves it on PORT).
  METRICS_PORT: int(0, 65535).prefault('9464'),
  REQUEST_TIMEOUT_MS: int(100, 600_000).prefault('10000'),
  // Connection limits of the API's HTTP server (src/api/http-server.ts), against slow and many
  // connections: a client gets this long to send its headers, and HTTP_REQUEST_TIMEOUT_MS for the
  // whole request with its body; an idle keep-alive connection is closed after
  // HTTP_KEEPALIVE_TIMEOUT_MS. The connection cap sits above the 1000 slow connections the API must
  // outlast and far below the process's open files, so Postgres and Redis always get theirs.
  HTTP_HEADERS_TIMEOUT_MS: int(100, 600_000).prefault('10000'),
  HTTP_REQUEST_TIMEOUT_MS: int(100, 3_600_000).prefault('30000'),
  HTTP_KEEPALIVE_TIMEOUT_MS: int(100, 600_000).prefault('5000'),
  HTTP_MAX_CONNECTIONS: int(1, 1_000_000).prefault('4096'),
  HTTP_MAX_HEADER_BYTES: int(1024, 1_048_576).prefault('16384'),
  HTTP_MAX_HEADERS_COUNT: int(10, 10_000).prefault('100'),
  // Requests per client per minute, counted in Redis so every API instance shares the count
  // (src/api/middleware/rate-limit.ts); 0 turns a limit off (load tests, the demo, the benchmark).
  ORDER_RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).prefault('60'),
  LIST_RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).prefault('300'),
  // Sign-ups and log-ins (POST /users, /users/login) per client address a minute: each costs a
  // memory-hard hash, and log-ins are where customer passwords are guessed.
  AUTH_RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).prefault('10'),
  // Reverse proxies in front of the API that append to X-Forwarded-For: the client is the address
  // this many entries from the right. 0: X-Forwarded-For is ignored and the socket's peer is the client.
  TRUSTED_PROXY_HOPS: int(0, 10).prefault('0'),
  // Browser origins allowed to call the API (comma-separated); empty: CORS off.
  CORS_ORIGINS: commaList.pipe(z.array(z.url('each origin must be a URL like https://shop.example'))).prefault(''),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).prefault('info'),
  ADMIN_USER: z.string().min(1).prefault('admin'),
  ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  // Wrong staff passwords per client address within the window before its logins are refused
  // (429) for the rest of it; counted in Redis so every API instance shares the count
  // (src/api/middleware/staff-auth.ts). Guessing the password at 10 per 5 min takes forever.
  ADMIN_LOGIN_MAX_FAILURES: int(1, 10_000).prefault('10'),
  ADMIN_LOGIN_WINDOW_S: int(1, 86_400).prefault('300'),
  // BullMQ keys are `<prefix>:<queue>:…`; a {hash tag} keeps every queue's keys in one Redis Cluster slot.
  QUEUE_PREFIX: z
    .string()
    .regex(/^[^:\s]+$/, 'must not contain ":" or spaces')
    .prefault('{outbox}'),
  // How long a replayable response is kept for an Idempotency-Key.
  IDEMPOTENCY_KEY_TTL_S: int(60, 30 * 86400).prefault('86400'),
  // Customers (src/api/routes/users.ts): a bearer token from POST /users/login works this long
  // (POST /users/logout ends it sooner); expired tokens are pruned by the relay's retention.
  CUSTOMER_TOKEN_TTL_S: int(60, 90 * 86400).prefault('86400'),
  // The API keeps the menu in memory this long (src/api/menu.ts): a price changed in the menu
  // table applies to orders within it; an entry the copy lacks is read at once.
  MENU_CACHE_TTL_MS: int(0, 3_600_000).prefault('5000'),
  // LISTEN needs a session: behind PgBouncer in transaction mode, point this at Postgres directly.
  DATABASE_LISTEN_URL: url(['postgres:', 'postgresql:']).optional(),
  // Prepared statements; set false behind PgBouncer in transaction mode.
  PG_PREPARE: bool.prefault('true'),
  // postgres.js pipelines queries on a connection, so a few carry a process's load (see README).
  PG_POOL_MAX: int(1, 500).prefault('4'),
  PG_CONNECT_TIMEOUT_S: int(1, 120).prefault('5'),
  RELAY_BATCH_SIZE: int(1, 5000).prefault('200'),
  RELAY_CONCURRENCY: int(1, 16).prefault('2'),
  RELAY_POLL_INTERVAL_MS: int(10, 600_000).prefault('1000'),
  // The widest spacing of a relay's small claims under a heavy stream (0: claim on every wake-up).
  RELAY_COALESCE_MS: int(0, 1000).prefault('20'),
  RELAY_MAX_ATTEMPTS: int(1, 1000).prefault('10'),
  // A row that failed to publish waits this long, doubled on each further failure (at most 5 min).
  RELAY_RETRY_BASE_MS: int(1, 600_000).prefault('1000'),
  // A published row whose consumers have not recorded it this long after, and whose job Redis no
  // longer has, is published again (Redis lost it). Checked every RECONCILE_INTERVAL_MS.
  RECONCILE_AFTER_MS: int(100, 7 * 86_400_000).prefault('180000'),
  RECONCILE_INTERVAL_MS: int(50, 3_600_000).prefault('30000'),
  // Retention, pruned by the relay in small batches every RETENTION_INTERVAL_MS.
  OUTBOX_RETENTION_S: int(60, 365 * 86400).prefault(String(8 * 86400)),
  INBOX_RETENTION_S: int(60, 365 * 86400).prefault(String(30 * 86400)),
  RETENTION_INTERVAL_MS: int(100, 86_400_000).prefault('60000'),
  RELAY_MAX_PAYLOAD_BYTES: int(1024, 100 * 1024 * 1024).prefault('524288'),
  WORKER_QUEUES: queueList.prefault(QUEUE_NAMES.join(',')),
  WORKER_CONCURRENCY: int(1, 1000).prefault('16'),
  WORKER_LOCK_DURATION_MS: int(1000, 3_600_000).prefault('30000'),
  // How often workers look for jobs whose worker died (their lock expired), and how many times a job
  // may be found so before it fails.
  WORKER_STALLED_INTERVAL_MS: int(500, 3_600_000).prefault('30000'),
  WORKER_MAX_STALLED_COUNT: int(0, 1000).prefault('3'),
  JOB_ATTEMPTS: int(1, 100).prefault('5'),
  JOB_BACKOFF_MS: int(1, 3_600_000).prefault('1000'),
  JOB_KEEP_COMPLETED_S: int(60, 365 * 86400).prefault(String(86400)),
  JOB_KEEP_FAILED_S: int(60, 365 * 86400).prefault(String(7 * 86400)),
  GATEWAY_LATENCY_MS: int(0, 60_000).prefault('0'),
  GATEWAY_FAILURE_RATE: rate.prefault('0'),
  // Orders whose total is above this many cents are declined; unset means nothing is declined.
  GATEWAY_DECLINE_OVER_CENTS: int(0, Number.MAX_SAFE_INTEGER).optional(),
  DELIVERY_LATENCY_MS: int(0, 60_000).prefault('0'),
  DELIVERY_FAILURE_RATE: rate.prefault('0'),
  SHUTDOWN_GRACE_MS: int(0, 600_000).prefault('10000'),
  REDIS_REQUIRE_NOEVICTION: bool.prefault('true'),
  // Test-only crash points (see src/fault-points.ts): point:probability,… Empty in production.
  FAULT_INJECTION: commaList
    .pipe(
      z.array(
        z
          .string()
          .regex(new RegExp(`^(${FAULT_POINTS.join('|')}):(0(\\.\\d+)?|1(\\.0+)?)$`), `each entry must be point:probability with point one of ${FAULT_POINTS.join(', ')}`)
          .transform((e) => [e.slice(0, e.indexOf(':')), Number(e.slice(e.indexOf(':') + 1))] as const),
      ),
    )
    .transform((entries): FaultPlan => Object.fromEntries(entries))
    .prefault(''),
});

export type Config = z.output<typeof configSchema> & { WORKER_QUEUES: QueueName[] };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set", as in most twelve-factor tooling.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    const shown = name in present && !/PASSWORD|URL|KEY/.test(name) ? ` (got "${present[name]}")` : '';
    throw new ConfigError(`Invalid configuration: ${name}${shown}: ${issue?.message ?? 'invalid'}. Fix it in the environment and start again.`);
  }
  for (const [name, problem] of crossFieldProblems(parsed.data)) {
    throw new ConfigError(`Invalid configuration: ${name}: ${problem}. Fix it in the environment and start again.`);
  }
  return parsed.data;
}

// Settings that are only wrong together.
function crossFieldProblems(c: Config): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  if (c.OUTBOX_RETENTION_S < c.JOB_KEEP_FAILED_S) {
    problems.push(['OUTBOX_RETENTION_S', `must be at least JOB_KEEP_FAILED_S (${c.JOB_KEEP_FAILED_S}): a failed job retried from the dashboard needs its outbox row`]);
  }
  if (c.INBOX_RETENTION_S < c.JOB_KEEP_COMPLETED_S) {
    problems.push(['INBOX_RETENTION_S', `must be at least JOB_KEEP_COMPLETED_S (${c.JOB_KEEP_COMPLETED_S}): past the jobId dedupe window only the inbox stops a duplicate`]);
  }
  if (c.INVOICES_DATABASE_URL && !c.OUTBOX_SIGNING_KEY) {
    problems.push([
      'OUTBOX_SIGNING_KEY',
      "must be set when INVOICES_DATABASE_URL is: the invoice service verifies events with the key the relays sign them with, and cannot read the order database's own key (generate one with `openssl rand -base64 33`)",
    ]);
  }
  // BullMQ's scripts and our addBulk pipelines touch many keys of one queue at once; on a cluster
  // they must share a slot, which only a {hash tag} in the prefix guarantees. Without one the
  // service would start, take orders, and never publish one (CROSSSLOT on every add).
  if (c.REDIS_CLUSTER_NODES && !/\{[^}]+\}/.test(c.QUEUE_PREFIX)) {
    problems.push([
      'QUEUE_PREFIX',
      `must contain a {hash tag} on a Redis Cluster (REDIS_CLUSTER_NODES is set), so that every key of a queue is in one slot: use QUEUE_PREFIX={${c.QUEUE_PREFIX}} instead of ${c.QUEUE_PREFIX}`,
    ]);
  }
  if (c.HTTP_REQUEST_TIMEOUT_MS < c.HTTP_HEADERS_TIMEOUT_MS) {
    problems.push(['HTTP_REQUEST_TIMEOUT_MS', `must be at least HTTP_HEADERS_TIMEOUT_MS (${c.HTTP_HEADERS_TIMEOUT_MS}): the whole request includes its headers`]);
  }
  if (c.PG_POOL_MAX <= c.RELAY_CONCURRENCY) {
    problems.push([
      'PG_POOL_MAX',
      `must be more than RELAY_CONCURRENCY (${c.RELAY_CONCURRENCY}): each relay loop holds a connection through its batch, and the rest of the process needs one too`,
    ]);
  }
  // The TLS files named in the Postgres URLs and REDIS_TLS_*: present, PEM, and matching.
  problems.push(...tlsProblems(c));
  return problems;
}
