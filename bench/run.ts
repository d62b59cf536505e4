// `npm run bench`: the benchmark of the outbox pipeline against its own baselines, a peer built on
// graphile-worker (tuned as its authors recommend) and a row-by-row poller standing for the Kafka
// seed's relay, all measured in one run on one machine. It prints tables
// and, with --json FILE, writes the raw figures and the ratios. It never fails on a number: the
// exit code is 0 when the run completed, whatever the figures. See BENCHMARKS.md.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { benchAdd } from './baselines/add.ts';
import { benchLat } from './baselines/lat.ts';
import { benchTx } from './baselines/tx.ts';
import { benchWork } from './baselines/work.ts';
import { Infra } from './lib/infra.ts';
import { cpuSpeedIndex, machineInfo, type Machine } from './lib/machine.ts';
import { killAllNow, peakRssByRole, stopAll } from './lib/procs.ts';
import { parseArgs, type Phase } from './lib/profile.ts';
import { computeRatios, table, targetsTable, verdicts } from './lib/report.ts';
import { backlogTable, cpuTable, DISTURBED_CORES, disturbedWindows, figuresTable, ratioInputs, type Results } from './lib/results.ts';
import { benchGraphile } from './peers/graphile/peer.ts';
import { benchApi } from './project/api.ts';
import { benchBacklog } from './project/backlog.ts';
import { benchDrain } from './project/drain.ts';
import { runPipeline } from './project/pipeline.ts';
import { benchScaling } from './project/scaling.ts';

const args = parseArgs(process.argv.slice(2));
const { profile } = args;
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const infra = new Infra();
infra.vacuumEveryS = args.vacuumEveryS;
const results: Results = { errors: [] };
const startedAt = new Date();
const log = (msg: string) => console.log(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

// Whatever happens: children killed by pid, databases dropped, keys deleted.
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    await stopAll().catch(() => killAllNow());
    const problems = await infra.cleanup();
    for (const p of problems) console.error(`cleanup: ${p}`);
  })());
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the run and cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function phase<T>(name: Phase, label: string, fn: () => Promise<T>): Promise<T | undefined> {
  if (!args.only.has(name)) return undefined;
  const speed = cpuSpeedIndex();
  results.cpuSpeedByPhase ??= {};
  results.cpuSpeedByPhase[name === 'baselines' || name === 'lat' ? label.split(':')[0]! : name] = speed;
  log(`${label} … (CPU speed index ${speed})`);
  try {
    return await fn();
  } catch (err) {
    const message = `${label}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
    console.error(message);
    results.errors!.push(message.split('\n').slice(0, 3).join(' '));
    await stopAll();
    return undefined;
  }
}

let machine: Machine | undefined;
try {
  machine = await machineInfo(infra.serverUrl, infra.redis);
  log(`run ${infra.runId}, ${profile.name} profile, ${machine.cores} cores, Node ${machine.node}, Postgres ${machine.postgres}, Redis ${machine.redis}`);
  const db = await infra.database('main');

  results.tx = await phase('baselines', 'B_tx: order + outbox transaction', () => benchTx(infra, db, profile));
  results.add = await phase('baselines', 'B_add: BullMQ addBulk', () => benchAdd(infra, db, profile));
  results.work = await phase('baselines', 'B_work: no-op Worker drain', () => benchWork(infra, db, profile));
  results.api = await phase('api', 'API: autocannon, alone / wake-up on / off', () => benchApi(infra, db, profile));
  const rateR = results.api ? Math.max(1, Math.round(results.api.alone.ordersPerS / 2)) : (args.rate ?? 500);
  results.rateR = rateR;
  results.lat = await phase('lat', `B_lat at R: add → start at ${rateR}/s`, () => benchLat(infra, db, profile, rateR));
  const common = (peerSustained: number) => (results.rateP = Math.max(1, Math.min(rateR, Math.round(peerSustained / 2))));
  results.peer = await phase('peer', 'graphile-worker peer: sustained, then e2e at P', () => benchGraphile(infra, profile, common));
  const rateP = results.rateP ?? Math.min(rateR, 200);
  results.rateP = rateP;
  // B_lat again at P: each e2e figure has its baseline at its own rate.
  results.latP = await phase('lat', `B_lat at P: add → start at ${rateP}/s`, () => benchLat(infra, db, profile, rateP));
  results.pipeline = await phase('pipeline', `pipeline: sustained, then e2e at R=${rateR}/s and P=${rateP}/s`, () =>
    runPipeline(infra, db, profile, {
      relay: 'ours',
      rates: [
        { name: 'R', rate: rateR, ms: profile.e2eMs },
        { name: 'P', rate: rateP, ms: profile.e2eCommonMs },
      ],
      sustained: true,
    }),
  );
  results.seeds = await phase('seeds', `row-by-row poller (the Kafka seed's relay): e2e at P=${rateP}/s`, () =>
    runPipeline(infra, db, profile, { relay: 'seeds', rates: [{ name: 'P', rate: rateP, ms: profile.e2eCommonMs }], sustained: false }),
  );
  results.drain = await phase('drain', `relay drain ${profile.drainRows} rows, analyzed, the row-by-row poller's drain`, () => benchDrain(infra, db, profile));
  results.scaling = await phase('scaling', `relay scaling: ${profile.scaleRows} rows by 1, 2 and 3 relay processes × ${profile.scaleRounds}`, () =>
    benchScaling(infra, db, profile),
  );
  results.backlog = await phase('backlog', `backlog: ${profile.backlogRows} rows drained, API at ${profile.backlogApiRate}/s`, () => benchBacklog(infra, db, profile));
} catch (err) {
  console.error(err);
  results.errors!.push(String(err));
} finally {
  log('cleaning up (children, databases, Redis keys) …');
  await cleanup();
}

results.peakRssMbByRole = { ...peakRssByRole, harness: Math.round(process.resourceUsage().maxRSS / 102.4) / 10 };
const ratios = computeRatios(ratioInputs(results));
const cpuSpeedAtEnd = cpuSpeedIndex();
const seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);

if (machine) {
  console.log(
    `\n## Machine\n\n${table(
      ['', ''],
      [
        ['cores', `${machine.cores} × ${machine.cpuModel}`],
        ['memory', `${machine.memoryGb} GB`],
        ['Node', machine.node],
        [
          'Postgres',
          `${machine.postgres} (synchronous_commit=${machine.postgresSettings.synchronous_commit}, fsync=${machine.postgresSettings.fsync}, autovacuum=${machine.postgresSettings.autovacuum})`,
        ],
        ['Redis', `${machine.redis} (appendonly=${machine.redisSettings.appendonly}, maxmemory-policy=${machine.redisSettings['maxmemory-policy']})`],
        [
          'load average',
          `${machine.loadAverageAtStart.join(' ')} at start, ${os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')} at end`,
        ],
        [
          'CPU speed index',
          `${machine.cpuSpeedAtStart} at start, ${Object.entries(results.cpuSpeedByPhase ?? {})
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}, ${cpuSpeedAtEnd} at end (JSON round trips of an order per ms, one thread, before each phase; compare runs only when it agrees)`,
        ],
        ['command', `${command} (${profile.name} profile, ${seconds} s)`],
        ['source', machine.source ? `commit ${machine.source.commit}, ${machine.source.changedFiles} uncommitted file(s) under src/ and sql/` : 'unknown'],
      ],
    )}`,
  );
}
console.log(`\n## Figures\n\n${figuresTable(results)}`);
if (results.backlog) console.log(`\n## Backlog drain by tenth of its time\n\n${backlogTable(results.backlog)}`);
console.log(`\n## CPU during each window (cores)\n\n${cpuTable(results)}`);
const disturbed = disturbedWindows(results);
if (disturbed.length) console.log(`\nOther users kept more than ${DISTURBED_CORES} core busy during: ${disturbed.join(', ')}. Figures from these windows are low.`);
console.log(`\n## Targets (ratios within this run)\n\n${targetsTable(ratios, results.backlog?.memory.growthMb)}`);
if (results.errors!.length) console.log(`\n${results.errors!.length} phase(s) failed:\n${results.errors!.map((e) => `- ${e}`).join('\n')}`);

if (args.json) {
  const out = {
    command,
    profile,
    startedAt: startedAt.toISOString(),
    seconds,
    machine: machine && { ...machine, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100), cpuSpeedAtEnd },
    settings: { ...infra.settings },
    vacuumEveryS: args.vacuumEveryS ?? null,
    results,
    ratios,
    targets: verdicts(ratios),
    disturbedWindows: disturbed,
  };
  writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nJSON written to ${args.json}`);
}
process.exit(results.errors!.length ? 1 : 0);
