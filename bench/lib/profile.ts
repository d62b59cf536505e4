// Command line and run sizes. The default run is thorough (about a quarter of an hour); --quick keeps a
// run under about two minutes; --smoke is for developing the harness itself (seconds per phase).
export const PHASES = ['baselines', 'api', 'lat', 'peer', 'pipeline', 'seeds', 'drain', 'scaling', 'backlog'] as const;
export type Phase = (typeof PHASES)[number];

// Orders in flight at once wherever the harness drives orders as fast as it can: the API's
// autocannon connections, B_tx's transactions (over a pool of PG_POOL_MAX connections, as the API
// has), the sustained closed loops. Fixed, so that changing the pool changes the service, not the load.
export const CLIENTS = 20;

export interface Profile {
  name: 'default' | 'quick' | 'smoke';
  txMs: number; // B_tx measuring window
  warmMs: number; // warm-up before every timed window (discarded)
  addJobs: number; // B_add jobs
  workJobs: number; // B_work pre-filled jobs
  apiMs: number; // autocannon window per API run
  apiRounds: number; // interleaved on/off rounds for the wake-up ratio
  latMs: number; // B_lat open-loop window
  e2eMs: number; // our end to end at rate R (half the API's maximum)
  e2eCommonMs: number; // ours, the seeds' relay and the peer at the common rate P
  sustainedMs: number; // sustained pipeline window (a minute in the default run)
  sustainedWindow: number; // most orders in flight (placed, not yet delivered) in the sustained runs
  drainRows: number; // relay drain backlog
  seedDrainCapMs: number; // the seeds' relay drains row by row: cap its time
  settleMs: number; // how long the last orders of a run may go without progress before giving up
  scaleRows: number; // relay scaling: the backlog drained by 1, 2 and 3 relay processes
  scaleRounds: number; // relay scaling: rounds over the three counts (alternating order)
  backlogRows: number; // backlog: unpublished rows drained while the API is under load (and the memory check)
  backlogApiRate: number; // backlog: POST /orders per second, open loop, before and during the drain
  backlogBaselineMs: number; // backlog: the API's baseline window at that rate, no backlog
  backlogCapMs: number; // backlog: give up on the drain after this long
}

const DEFAULT: Profile = {
  name: 'default',
  txMs: 15_000,
  warmMs: 3_000,
  addJobs: 100_000,
  workJobs: 100_000,
  apiMs: 15_000,
  apiRounds: 3,
  latMs: 20_000,
  e2eMs: 30_000,
  e2eCommonMs: 20_000,
  sustainedMs: 60_000,
  sustainedWindow: 2_000,
  drainRows: 100_000,
  seedDrainCapMs: 30_000,
  settleMs: 15_000,
  scaleRows: 200_000,
  scaleRounds: 2,
  backlogRows: 1_000_000,
  backlogApiRate: 150,
  backlogBaselineMs: 30_000,
  backlogCapMs: 20 * 60_000,
};

const QUICK: Profile = {
  name: 'quick',
  txMs: 3_000,
  warmMs: 700,
  addJobs: 20_000,
  workJobs: 20_000,
  apiMs: 3_000,
  apiRounds: 1,
  latMs: 4_000,
  e2eMs: 5_000,
  e2eCommonMs: 4_000,
  sustainedMs: 6_000,
  sustainedWindow: 1_000,
  drainRows: 20_000,
  seedDrainCapMs: 4_000,
  settleMs: 8_000,
  scaleRows: 40_000,
  scaleRounds: 1,
  backlogRows: 100_000,
  backlogApiRate: 150,
  backlogBaselineMs: 5_000,
  backlogCapMs: 3 * 60_000,
};

const SMOKE: Profile = {
  name: 'smoke',
  txMs: 1_000,
  warmMs: 300,
  addJobs: 2_000,
  workJobs: 2_000,
  apiMs: 1_500,
  apiRounds: 1,
  latMs: 1_500,
  e2eMs: 2_000,
  e2eCommonMs: 1_500,
  sustainedMs: 2_000,
  sustainedWindow: 300,
  drainRows: 2_000,
  seedDrainCapMs: 2_000,
  settleMs: 5_000,
  scaleRows: 3_000,
  scaleRounds: 1,
  backlogRows: 5_000,
  backlogApiRate: 50,
  backlogBaselineMs: 1_500,
  backlogCapMs: 60_000,
};

export interface Args {
  profile: Profile;
  json?: string;
  only: Set<Phase>;
  rate?: number; // R when the api phase is skipped
  vacuumEveryS?: number; // do autovacuum's job during phases (see lib/infra.ts)
}

export const USAGE = `usage: npm run bench -- [--quick | --smoke] [--json FILE] [--only ${PHASES.join(',')}] [--rate N]
  (default)   the thorough run, about a quarter of an hour
  --quick     the same figures with short windows and small backlogs, under about two minutes
  --smoke     tiny sizes, for working on the harness itself
  --json FILE write the raw figures, the machine and the ratios as JSON
  --only LIST run only these phases (ratios needing the others are null)
  --rate N    the e2e rate R when the api phase is not run (default 500/s)
  --vacuum-every S  VACUUM (ANALYZE) the run's databases every S seconds during phases, standing
              for autovacuum where the server runs without it (recorded in the JSON)
Project settings (PG_POOL_MAX, RELAY_BATCH_SIZE, WORKER_CONCURRENCY, …) are taken from the
environment, passed to every role and used by the baselines.`;

export function parseArgs(argv: readonly string[]): Args {
  let profile = DEFAULT;
  let json: string | undefined;
  let only = new Set<Phase>(PHASES);
  let rate: number | undefined;
  let vacuumEveryS: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--quick') profile = QUICK;
    else if (a === '--smoke') profile = SMOKE;
    else if (a === '--json') json = value();
    else if (a === '--rate') rate = Number(value());
    else if (a === '--vacuum-every') vacuumEveryS = Number(value());
    else if (a === '--only') {
      const list = value()
        .split(',')
        .map((s) => s.trim());
      const bad = list.filter((p) => !(PHASES as readonly string[]).includes(p));
      if (bad.length) throw new Error(`unknown phase ${bad.join(', ')}\n${USAGE}`);
      only = new Set(list as Phase[]);
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (rate !== undefined && !(rate > 0)) throw new Error('--rate must be a positive number');
  if (vacuumEveryS !== undefined && !(vacuumEveryS > 0)) throw new Error('--vacuum-every must be a positive number of seconds');
  return { profile, only, ...(json ? { json } : {}), ...(rate ? { rate } : {}), ...(vacuumEveryS ? { vacuumEveryS } : {}) };
}
