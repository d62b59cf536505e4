// A real Redis Cluster on local ports, from the machine's redis-server: three masters, no replicas,
// AOF on so a restarted master comes back with its data. Every process is ended by pid.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './context.ts';
import { freePort, startCommand, type Child } from './processes.ts';

const run = promisify(execFile);

export interface LocalCluster {
  ports: number[];
  nodes: string; // host:port,host:port,… for REDIS_CLUSTER_NODES
  kill(port: number): Promise<void>;
  restart(port: number): Promise<void>;
  // Restarts any master that is down (used before stopping a system in afterAll).
  heal(): Promise<void>;
  masterOfKey(key: string): Promise<number>;
  state(): Promise<string>;
  stop(): Promise<void>;
}

// A port can still be taken between the check and redis-server binding it: on any
// failure to form the cluster, everything is torn down and tried again on fresh ports.
export async function startLocalCluster(attempts = 3): Promise<LocalCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryStartLocalCluster();
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}

async function tryStartLocalCluster(): Promise<LocalCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'outbox-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const servers = new Map<number, Child>();
  const start = async (port: number) => {
    const server = startCommand('redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '2000',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--appendfilename',
      `aof-${port}.aof`,
      '--appenddirname',
      `aof-${port}`,
      '--dir',
      dir,
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ]);
    servers.set(port, server);
    await waitFor(`redis ${port} to answer`, async () => (await run('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() === 'PONG');
  };
  const teardown = async () => {
    for (const server of servers.values()) server.kill('SIGKILL');
    await Promise.all([...servers.values()].map((s) => s.exited));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await start(port);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes']);
  } catch (err) {
    await teardown();
    throw err;
  }
  const alive = (port: number) => {
    const server = servers.get(port)!;
    return server.proc.exitCode === null && server.proc.signalCode === null;
  };
  // Asked of a master that is up: the one killed cannot answer for the cluster.
  const state = async () => {
    const port = ports.find(alive)!;
    return /cluster_state:(\w+)/.exec((await run('redis-cli', ['-p', String(port), 'cluster', 'info'])).stdout)?.[1] ?? 'unknown';
  };
  await waitFor('the cluster to be ok', async () => (await state()) === 'ok', 30_000);

  const restart = async (port: number) => {
    await start(port);
    await waitFor('the cluster to be ok again', async () => (await state()) === 'ok', 30_000);
  };

  return {
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    state,
    async masterOfKey(key) {
      const slot = Number((await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'keyslot', key])).stdout.trim());
      for (const port of ports) {
        const owned = await run('redis-cli', ['-p', String(port), 'cluster', 'countkeysinslot', String(slot)]).catch(() => undefined);
        const myself = (await run('redis-cli', ['-p', String(port), 'cluster', 'nodes'])).stdout.split('\n').find((l) => l.includes('myself'))!;
        const ranges = myself.split(' ').slice(8);
        if (
          owned &&
          ranges.some((r) => {
            const [a, b = a] = r.split('-').map(Number);
            return slot >= a! && slot <= b!;
          })
        )
          return port;
      }
      throw new Error(`no master owns slot ${slot}`);
    },
    async kill(port) {
      const server = servers.get(port)!;
      server.kill('SIGKILL');
      await server.exited;
    },
    restart,
    async heal() {
      for (const port of ports) if (!alive(port)) await restart(port);
    },
    stop: teardown,
  };
}
