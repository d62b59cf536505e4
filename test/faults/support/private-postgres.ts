// A Postgres cluster of the test's own (initdb into a temp dir, one postmaster on a free port), so
// the test can stop and start it without touching the shared server other test files use.
// Postgres refuses to run as root: when the tests run as root, initdb and the server run as the
// `postgres` user (spawned with its uid and gid) in a directory that user owns.
import { execFile, execFileSync } from 'node:child_process';
import { chmod, chown, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { waitFor } from '../../support/context.ts';
import { freePort, startCommand, type Child } from '../../support/processes.ts';
import { track } from './tracked.ts';

const run = promisify(execFile);

export interface PrivatePostgres {
  port: number;
  // The server's URL (maintenance database `postgres`); createTestContext puts its own database on it.
  url: string;
  start(): Promise<void>;
  // immediate: SIGQUIT, like a crash (recovery on the next start); fast: SIGINT, a clean restart.
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  running(): boolean;
  // Stops the server (SIGKILL if it will not stop) and removes its directory.
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no Postgres server under ${root}`);
  return join(root, versions[0]!, 'bin');
}

// Whom to run the server as: ourselves, or the postgres user when we are root.
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

// With `tls`, the server takes only TLS connections over TCP (hostssl), with this certificate and key,
// and `url` asks for TLS without checking the certificate (sslmode=require): tests that check it
// put sslrootcert and a stricter sslmode in the URLs they hand the service.
// `maxConnections` (200 by default): a small one lets a test run the server out of connections.
export interface PrivatePostgresOptions {
  tls?: { certFile: string; keyFile: string };
  maxConnections?: number;
}

// Postgres reads the key only if its owner alone can (or root owns it and the group may read it).
async function serverTlsArgs(dir: string, tls: NonNullable<PrivatePostgresOptions['tls']>, user: { uid: number; gid: number } | undefined): Promise<string[]> {
  const files = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), hba: join(dir, 'pg_hba.conf') };
  await copyFile(tls.certFile, files.cert);
  await copyFile(tls.keyFile, files.key);
  await writeFile(files.hba, 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n');
  await chmod(files.key, 0o600);
  if (user) for (const f of Object.values(files)) await chown(f, user.uid, user.gid);
  return ['-c', 'ssl=on', '-c', `ssl_cert_file=${files.cert}`, '-c', `ssl_key_file=${files.key}`, '-c', `hba_file=${files.hba}`];
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = binDir();
  const user = serverUser();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'fault-pg-'));
  if (user) await chown(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { ...user });
  const tlsArgs = options.tls ? await serverTlsArgs(dir, options.tls, user) : [];

  let server: Child | undefined;
  const running = () => server !== undefined && server.proc.exitCode === null && server.proc.signalCode === null;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres${options.tls ? '?sslmode=require' : ''}`;

  const pg: PrivatePostgres = {
    port,
    url,
    running,
    async start() {
      if (running()) return;
      server = track(
        startCommand(
          join(bin, 'postgres'),
          [
            '-D',
            data,
            '-p',
            String(port),
            '-k',
            dir,
            '-c',
            'listen_addresses=127.0.0.1',
            '-c',
            'fsync=off',
            '-c',
            'full_page_writes=off',
            '-c',
            `max_connections=${options.maxConnections ?? 200}`,
            ...tlsArgs,
          ],
          { ...user },
        ),
      );
      await waitFor(
        `private postgres on ${port} to accept connections`,
        async () => {
          if (!running()) throw new Error(`postgres exited: ${server!.output().slice(-1000)}`);
          const probe = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
          try {
            await probe`SELECT 1`;
            return true;
          } finally {
            await probe.end({ timeout: 1 });
          }
        },
        20_000,
      );
    },
    async stop(mode = 'immediate') {
      if (!running()) return;
      server!.kill(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
      await server!.exited;
    },
    async destroy() {
      if (running()) {
        server!.kill('SIGINT');
        const stopped = await Promise.race([server!.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000).unref())]);
        if (!stopped) {
          server!.kill('SIGKILL');
          await server!.exited;
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}
