// TLS to Postgres and Redis, against servers of the test's own started with certificates made here
// (openssl): the pipeline runs with every connection verified, a certificate from another CA or for
// another host is refused at start with one line naming the variable, and a TLS file that is
// missing or not PEM stops the config.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createSql } from '../src/db/client.ts';
import { createFailFastRedis, waitUntilReady } from '../src/redis/connection.ts';
import { isTlsFailure, TlsRefusedError } from '../src/tls.ts';
import { startPrivatePostgres, type PrivatePostgres } from './faults/support/private-postgres.ts';
import { startPrivateRedis, type PrivateRedis } from './faults/support/private-redis.ts';
import { createTestContext, scaled, waitFor, type TestContext } from './support/context.ts';
import { startNode } from './support/processes.ts';
import { PIZZA, postJson, staffGet, startSystem, type RunningSystem } from './support/system.ts';

const openssl = (...args: string[]) => promisify(execFile)('openssl', args);

let dir: string;
let pg: PrivatePostgres | undefined;
let redis: PrivateRedis | undefined;
let ctx: TestContext | undefined;
let system: RunningSystem | undefined;
const files = { ca: '', otherCa: '', serverCert: '', serverKey: '', clientCert: '', clientKey: '' };

// A CA, and certificates it signs: the servers' names only 127.0.0.1 (so "localhost" is another host).
async function makeCertificates(): Promise<void> {
  const at = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string, cn: string) =>
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.crt`),
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  await ca('ca', 'tls test CA');
  await ca('other-ca', 'an unrelated CA');
  const leaf = async (name: string, cn: string, ext: string) => {
    await openssl('req', ...ec, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=${cn}`);
    await writeFile(at(`${name}.ext`), `${ext}\nbasicConstraints=CA:FALSE\n`);
    await openssl(
      'x509',
      '-req',
      '-in',
      at(`${name}.csr`),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      at(`${name}.crt`),
      '-extfile',
      at(`${name}.ext`),
    );
  };
  await leaf('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  await leaf('client', 'outbox-client', 'extendedKeyUsage=clientAuth');
  Object.assign(files, {
    ca: at('ca.crt'),
    otherCa: at('other-ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tls-test-'));
  await makeCertificates();
  pg = await startPrivatePostgres({ tls: { certFile: files.serverCert, keyFile: files.serverKey } });
  redis = await startPrivateRedis({ persistent: false, tls: { certFile: files.serverCert, keyFile: files.serverKey, caFile: files.ca } });
  // The context's own view: Postgres encrypted (sslmode=require, the only way in), Redis on its plain port.
  ctx = await createTestContext({}, { databaseUrl: pg.url, redisUrl: redis.url });
}, scaled(120_000));

afterAll(async () => {
  await system?.stop().catch(() => {});
  await ctx?.cleanup().catch(() => {});
  await redis?.stop();
  await pg?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// The test database's URL with these TLS parameters (and host), as an operator would write it.
function pgUrl(sslmode: string, sslrootcert?: string, host = '127.0.0.1'): string {
  const u = new URL(ctx!.env.DATABASE_URL!);
  u.hostname = host;
  u.searchParams.set('sslmode', sslmode);
  if (sslrootcert) u.searchParams.set('sslrootcert', sslrootcert);
  else u.searchParams.delete('sslrootcert');
  return u.toString();
}

// The service's env with every connection verified against the test's CA.
function verifiedEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return { ...ctx!.env, DATABASE_URL: pgUrl('verify-full', files.ca), REDIS_URL: redis!.tlsUrl!, REDIS_TLS_CA: files.ca, ...overrides };
}

// Runs an entry file to its exit (killed if it outlives the deadline) and returns its code and the
// lines it printed that mention TLS.
async function runToExit(script: string, env: Record<string, string>): Promise<{ code: number | null; tlsLines: string[] }> {
  const child = startNode(script, { ...env, LOG_LEVEL: 'info' });
  try {
    const exited = await Promise.race([child.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 45_000).unref())]);
    if (!exited) throw new Error(`${script} did not exit within 45 s:\n${child.output().slice(-2000)}`);
    return {
      code: exited.code,
      tlsLines: child
        .output()
        .split('\n')
        .filter((line) => line.includes('over TLS')),
    };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('the pipeline over TLS', () => {
  it('delivers and invoices an order with every Postgres and Redis connection verified', async () => {
    system = await startSystem(ctx!, ['api', 'relay', 'workers'], loadConfig(verifiedEnv()));
    const res = await postJson(`${system.url}/pizza`, PIZZA);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await waitFor('the order to be delivered and invoiced', async () => {
      const order = (await (await staffGet(system!, `/orders/${id}`)).json()) as { status: string; invoice: unknown };
      return order.status === 'delivered' && order.invoice ? order : undefined;
    });

    // Every session on the service's database is encrypted (the server takes no other over TCP).
    const [sessions] = await ctx!.sql<{ n: number; encrypted: number }[]>`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE s.ssl)::int AS encrypted
      FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = current_database()`;
    expect(sessions!.n).toBeGreaterThan(1);
    expect(sessions!.encrypted).toBe(sessions!.n);
    // The service's Redis connections came in on the TLS port; only the test's own use the plain one.
    const clients = (await redis!.cli('client', 'list')).split('\n');
    const tlsPort = new URL(redis!.tlsUrl!).port;
    const overTls = clients.filter((c) => c.includes(`laddr=127.0.0.1:${tlsPort} `));
    expect(overTls.some((c) => c.includes('name=outbox-commands'))).toBe(true);
    expect(overTls.length).toBeGreaterThanOrEqual(4); // the command connection and a blocking one per worker
    await system.stop();
    system = undefined;
  });
});

describe('a certificate the service cannot verify', () => {
  it('from another CA stops the start with one line naming DATABASE_URL, DATABASE_LISTEN_URL or REDIS_TLS_CA', async () => {
    const [postgres, listen, redisCa] = await Promise.all([
      runToExit('src/main.ts', verifiedEnv({ DATABASE_URL: pgUrl('verify-full', files.otherCa) })),
      runToExit('src/relay/main.ts', verifiedEnv({ DATABASE_LISTEN_URL: pgUrl('verify-full', files.otherCa) })),
      runToExit('src/main.ts', verifiedEnv({ REDIS_TLS_CA: files.otherCa })),
    ]);
    expect(postgres.code).toBe(1);
    expect(postgres.tlsLines).toHaveLength(1);
    expect(postgres.tlsLines[0]).toMatch(
      new RegExp(`cannot connect to Postgres at DATABASE_URL \\(127\\.0\\.0\\.1:${pg!.port}\\) over TLS: .*certificate.*Check sslmode and sslrootcert in DATABASE_URL`),
    );
    expect(listen.code).toBe(1);
    expect(listen.tlsLines).toHaveLength(1);
    expect(listen.tlsLines[0]).toMatch(/cannot connect to Postgres at DATABASE_LISTEN_URL .* over TLS: .*certificate.*sslrootcert in DATABASE_LISTEN_URL/);
    expect(redisCa.code).toBe(1);
    expect(redisCa.tlsLines).toHaveLength(1);
    expect(redisCa.tlsLines[0]).toMatch(/cannot connect to Redis at REDIS_URL \(127\.0\.0\.1:\d+\) over TLS: .*certificate.*Check REDIS_TLS_CA/);
  });

  it('for another host is refused by sslmode=verify-full (verify-ca checks the CA only)', async () => {
    const connect = async (url: string) => {
      const sql = createSql({ url, max: 1, connectTimeoutS: 5 });
      try {
        const [row] = await sql<{ ssl: boolean }[]>`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
        return row!.ssl;
      } finally {
        await sql.end({ timeout: 1 });
      }
    };
    // The certificate names 127.0.0.1 only.
    const wrongHost = await connect(pgUrl('verify-full', files.ca, 'localhost')).catch((err: unknown) => err);
    expect(isTlsFailure(wrongHost)).toBe(true);
    expect((wrongHost as { code: string }).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await connect(pgUrl('verify-ca', files.ca, 'localhost'))).toBe(true);
    expect(await connect(pgUrl('verify-full', files.ca))).toBe(true);
    // verify-full without sslrootcert trusts the system's CAs, which never signed this certificate.
    expect(isTlsFailure(await connect(pgUrl('verify-full')).catch((err: unknown) => err))).toBe(true);
    // require encrypts without checking, as libpq does; given a CA, it checks the chain (libpq too).
    expect(await connect(pgUrl('require'))).toBe(true);
    expect(isTlsFailure(await connect(pgUrl('require', files.otherCa)).catch((err: unknown) => err))).toBe(true);
  });

  it('on Redis: another host is refused, and a Redis that asks for a client certificate gets REDIS_TLS_CERT', async () => {
    const tryRedis = async (url: string, tls: Parameters<typeof createFailFastRedis>[3]) => {
      const client = createFailFastRedis(url, ctx!.log, 'tls-test', tls);
      try {
        await waitUntilReady(client, 10_000);
        return await client.ping();
      } finally {
        client.disconnect();
      }
    };
    const url = redis!.tlsUrl!;
    const localhost = url.replace('127.0.0.1', 'localhost');
    await expect(tryRedis(localhost, { REDIS_TLS_CA: files.ca })).rejects.toThrow(TlsRefusedError);
    await redis!.cli('config', 'set', 'tls-auth-clients', 'yes');
    try {
      expect(await tryRedis(url, { REDIS_TLS_CA: files.ca, REDIS_TLS_CERT: files.clientCert, REDIS_TLS_KEY: files.clientKey })).toBe('PONG');
      await expect(tryRedis(url, { REDIS_TLS_CA: files.ca })).rejects.toThrow(TlsRefusedError);
    } finally {
      await redis!.cli('config', 'set', 'tls-auth-clients', 'no');
    }
  });
});

describe('TLS files in the config', () => {
  const configError = (env: Record<string, string>) => {
    try {
      loadConfig(verifiedEnv(env));
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    return 'no error';
  };

  it('stop the start with one line naming the variable when missing, not PEM or mismatched', async () => {
    const notPem = join(dir, 'not-pem.txt');
    await writeFile(notPem, 'this is not a certificate\n');
    expect(configError({})).toBe('no error');
    expect(configError({ DATABASE_URL: pgUrl('verify-full', join(dir, 'missing.pem')) })).toMatch(
      /^Invalid configuration: DATABASE_URL: sslrootcert: the file .*missing\.pem cannot be read \(ENOENT\)/,
    );
    expect(configError({ INVOICES_DATABASE_URL: pgUrl('verify-full', notPem), OUTBOX_SIGNING_KEY: 'k'.repeat(32) })).toMatch(
      /^Invalid configuration: INVOICES_DATABASE_URL: sslrootcert: .* holds no PEM certificate/,
    );
    expect(configError({ DATABASE_URL: pgUrl('prefer', files.ca) })).toMatch(/DATABASE_URL: sslrootcert needs sslmode=verify-full/);
    expect(configError({ REDIS_TLS_CA: join(dir, 'missing.pem') })).toMatch(/^Invalid configuration: REDIS_TLS_CA: the file .* cannot be read/);
    expect(configError({ REDIS_TLS_CA: files.serverKey })).toMatch(/REDIS_TLS_CA: the file .* holds no PEM certificate/);
    expect(configError({ REDIS_TLS_CERT: files.clientCert, REDIS_TLS_KEY: notPem })).toMatch(/REDIS_TLS_KEY: the file .* is not an unencrypted PEM private key/);
    expect(configError({ REDIS_TLS_CERT: files.clientCert, REDIS_TLS_KEY: files.serverKey })).toMatch(/REDIS_TLS_KEY: the key in .* does not belong to the certificate/);
    expect(configError({ REDIS_TLS_CERT: files.clientCert })).toMatch(/REDIS_TLS_KEY: REDIS_TLS_CERT and REDIS_TLS_KEY go together/);
    expect(configError({ REDIS_URL: redis!.url })).toMatch(/REDIS_TLS_CA: is set but REDIS_URL starts with redis:\/\//);
  });
});
