// `npm run outbox -- <command>`: the operator's outbox tool.
//   list pending|dead [--limit N]   rows still to publish, or dead, with age, attempts and last error
//   replay <outbox-id>              publish one event again (consumers dedupe it through their inbox)
//   requeue <outbox-id>             bring a dead row back with fresh attempts
import { ConfigError, loadConfig } from '../config.ts';
import { WAKE_CHANNEL } from '../relay/notifier.ts';
import { checkToolConnections, closeToolConnections, openToolConnections } from '../tool-connections.ts';
import { isUuid } from '../engine/index.ts';
import { ORDER_TOPOLOGY } from '../orders/topology.ts';
import { createOutboxOperations } from './operations.ts';

const USAGE = 'usage: npm run outbox -- list pending|dead [--limit N] | replay <outbox-id> | requeue <outbox-id>';

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

const [command, arg, ...rest] = process.argv.slice(2);
if (!command || !['list', 'replay', 'requeue'].includes(command)) fail(USAGE);
if (command === 'list' && arg !== 'pending' && arg !== 'dead') fail(USAGE);
if (command !== 'list' && !isUuid(arg)) fail(`${command} needs an outbox id (a UUID). ${USAGE}`);
const limitFlag = rest.indexOf('--limit');
const limit = limitFlag >= 0 ? Number(rest[limitFlag + 1]) : 100;
if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) fail('--limit must be a whole number from 1 to 10000');

let config;
try {
  config = loadConfig();
} catch (err) {
  fail(err instanceof ConfigError ? err.message : String(err));
}
const connections = openToolConnections(config, 'outbox-cli');
const { sql, queues } = connections;
const ops = createOutboxOperations(sql, queues, ORDER_TOPOLOGY, () => void sql.notify(WAKE_CHANNEL, '').catch(() => {}));

let exitCode = 0;
try {
  await checkToolConnections(config, connections, { database: 'Check DATABASE_URL and that Postgres is running', redis: 'Check REDIS_URL and that Redis is running.' });
  if (command === 'list') {
    const rows = await ops.list(arg as 'pending' | 'dead', limit);
    for (const r of rows) {
      console.log(`${r.id}  ${r.event_type.padEnd(22)} age ${r.age_seconds.toFixed(1)}s  attempts ${r.attempts}${r.last_error ? `  last error: ${r.last_error}` : ''}`);
    }
    console.log(`${rows.length} ${arg} row(s)${rows.length === limit ? ` (first ${limit}; use --limit for more)` : ''}`);
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
  await closeToolConnections(connections);
}
process.exit(exitCode);
