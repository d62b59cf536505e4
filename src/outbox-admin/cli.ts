// `npm run outbox -- <command>`: the operator's outbox tool.
//   list pending|dead [--limit N]   rows still to publish, or dead, with age, attempts and last error
//   replay <outbox-id>              publish one event again (consumers dedupe it through their inbox)
//   replay --type T --since TIME [--until TIME]
//                                   publish again every published event of type T written in that
//                                   range (for a route added after they were published), with progress
//   requeue <outbox-id>             bring a dead row back with fresh attempts
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';
import { createCoalescedNotifier, WAKE_CHANNEL } from '../relay/notifier.ts';
import { checkToolConnections, closeToolConnections, openToolConnections } from '../tool-connections.ts';
import { isUuid } from '../engine/index.ts';
import { ORDER_TOPOLOGY } from '../orders/topology.ts';
import { createOutboxOperations } from './operations.ts';

const USAGE = 'usage: npm run outbox -- list pending|dead [--limit N] | replay <outbox-id> | replay --type <event type> --since <time> [--until <time>] | requeue <outbox-id>';

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

function parseCommand(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { limit: { type: 'string' }, type: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } },
    });
  } catch (err) {
    fail(`${(err as Error).message}. ${USAGE}`);
  }
  const [command, arg] = parsed.positionals;
  const { values } = parsed;
  if (!command || !['list', 'replay', 'requeue'].includes(command)) fail(USAGE);
  if (command === 'list' && arg !== 'pending' && arg !== 'dead') fail(USAGE);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) fail('--limit must be a whole number from 1 to 10000');
  const range = command === 'replay' && values.type !== undefined ? parseRange(values.type, values.since, values.until) : undefined;
  if (command !== 'list' && !range && !isUuid(arg)) fail(`${command} needs an outbox id (a UUID)${command === 'replay' ? ', or --type and --since' : ''}. ${USAGE}`);
  return { command, arg, limit, range };
}

function parseRange(type: string, since: string | undefined, until: string | undefined) {
  if (!ORDER_TOPOLOGY.routeFor(type)) fail(`--type ${type} is not an event type of this service (${ORDER_TOPOLOGY.eventTypes.join(', ')})`);
  const time = (flag: string, v: string | undefined) => {
    const at = v === undefined ? undefined : new Date(v);
    if (at && Number.isNaN(at.getTime())) fail(`${flag} must be a time such as 2026-12-01T08:00:00Z, got "${v}"`);
    return at;
  };
  const from = time('--since', since);
  if (!from) fail(`replay --type needs --since (a time such as 2026-12-01T08:00:00Z). ${USAGE}`);
  const to = time('--until', until);
  if (to && to <= from) fail('--until must be later than --since');
  return { type, since: from, until: to };
}

const { command, arg, limit, range } = parseCommand(process.argv.slice(2));

let config;
try {
  config = loadConfig();
} catch (err) {
  fail(err instanceof ConfigError ? err.message : String(err));
}
const connections = openToolConnections(config, 'outbox-cli');
const { sql, queues } = connections;
// One NOTIFY per few milliseconds at most, however many rows a bulk replay hands back.
const notifier = createCoalescedNotifier(
  () => sql.notify(WAKE_CHANNEL, ''),
  5,
  () => {},
);
const ops = createOutboxOperations(sql, queues, ORDER_TOPOLOGY, () => notifier.poke());

let exitCode = 0;
try {
  await checkToolConnections(config, connections, { database: 'Check DATABASE_URL and that Postgres is running', redis: 'Check REDIS_URL and that Redis is running.' });
  if (command === 'list') {
    const rows = await ops.list(arg as 'pending' | 'dead', limit);
    for (const r of rows) {
      console.log(`${r.id}  ${r.event_type.padEnd(22)} age ${r.age_seconds.toFixed(1)}s  attempts ${r.attempts}${r.last_error ? `  last error: ${r.last_error}` : ''}`);
    }
    console.log(`${rows.length} ${arg} row(s)${rows.length === limit ? ` (first ${limit}; use --limit for more)` : ''}`);
  } else if (command === 'replay' && range) {
    const until = range.until ? ` and before ${range.until.toISOString()}` : '';
    console.log(`replaying published ${range.type} events written since ${range.since.toISOString()}${until}`);
    const result = await ops.replayRange(range, (p) => console.log(`${p.done}/${p.total} done: ${p.replayed} replayed, ${p.pending} still pending`));
    console.log(
      `${result.replayed} of ${result.total} replayed; consumers that already had an event log it as a duplicate${result.pending ? `; ${result.pending} were still pending (their jobs not finished), run again later for those` : ''}`,
    );
  } else if (command === 'replay') {
    const result = await ops.replay(arg!);
    const messages = {
      replayed: `replayed ${arg}: the relay publishes it again now; consumers that already handled it log it as a duplicate`,
      not_found: `no outbox row ${arg}`,
      dead: `${arg} is dead: fix its cause, then run: npm run outbox -- requeue ${arg}`,
      pending: `nothing to replay for ${arg}: ${'detail' in result ? result.detail : ''}`,
    };
    console.log(messages[result.outcome]);
    if (result.outcome !== 'replayed') exitCode = 1;
  } else {
    const result = await ops.requeue(arg!);
    console.log(
      result.outcome === 'requeued'
        ? `requeued ${arg}: the relay tries it again now`
        : result.outcome === 'not_found'
          ? `no outbox row ${arg}`
          : `${arg} is not dead; to publish it again use: npm run outbox -- replay ${arg}`,
    );
    if (result.outcome !== 'requeued') exitCode = 1;
  }
} catch (err) {
  console.error(`outbox ${command} failed: ${(err as Error).message}`);
  exitCode = 2;
} finally {
  notifier.stop();
  await closeToolConnections(connections);
}
process.exit(exitCode);
