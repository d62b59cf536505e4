// A Redis of the test's own on a free port, so it can be stopped, restarted empty or flushed
// without touching the shared one on 6379 that other test files use. Ended by pid.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../support/context.ts';
import { freePort, startCommand, type Child } from '../../support/processes.ts';
import { track } from './tracked.ts';

const run = promisify(execFile);

export interface PrivateRedis {
  port: number;
  url: string;
  // With `tls`: rediss:// on a second port (the plain one stays, for redis-cli and the test's own view).
  tlsUrl?: string;
  // Starts the server (again) and waits until it answers PING.
  start(): Promise<void>;
  // kill -9: with `persistent` the AOF (fsync always) brings every acknowledged write back.
  kill(): Promise<void>;
  cli(...args: string[]): Promise<string>;
  running(): boolean;
  // Kills the server and removes its directory.
  stop(): Promise<void>;
}

// persistent: AOF with fsync on every write, like production; otherwise nothing is kept on disk,
// so a restart comes back empty (a restart without persistence, a failover to an empty replica).
// tls: also listen with TLS on a port of its own, with this certificate and key; clients are not
// asked for a certificate unless the test turns tls-auth-clients on (CONFIG SET).
export interface PrivateRedisOptions {
  persistent: boolean;
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export async function startPrivateRedis({ persistent, tls }: PrivateRedisOptions): Promise<PrivateRedis> {
  const port = await freePort();
  const tlsPort = tls ? await freePort() : undefined;
  const tlsArgs = tls
    ? ['--tls-port', String(tlsPort), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no']
    : [];
  const dir = await mkdtemp(join(tmpdir(), 'fault-redis-'));
  const persistence = persistent ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''] : ['--appendonly', 'no', '--save', ''];
  let server: Child | undefined;
  const running = () => server !== undefined && server.proc.exitCode === null && server.proc.signalCode === null;
  const cli = async (...args: string[]) => (await run('redis-cli', ['-p', String(port), ...args])).stdout.trim();

  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    ...(tlsPort ? { tlsUrl: `rediss://127.0.0.1:${tlsPort}` } : {}),
    running,
    cli,
    async start() {
      if (running()) return;
      server = track(startCommand('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--maxmemory-policy', 'noeviction', ...persistence, ...tlsArgs]));
      await waitFor(`redis ${port} to answer`, async () => (await cli('ping')) === 'PONG', 10_000);
      // The one answering must be ours, not a server of another test that took the port meanwhile.
      const pid = /process_id:(\d+)/.exec(await cli('info', 'server'))?.[1];
      if (Number(pid) !== server.proc.pid) throw new Error(`port ${port} is held by another redis-server (pid ${pid}); ours did not start`);
    },
    async kill() {
      if (!server) return;
      server.kill('SIGKILL');
      await server.exited;
    },
    async stop() {
      await redis.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await redis.start();
  return redis;
}
