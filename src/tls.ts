// TLS to Postgres and Redis: the options each driver is given, the checks of the certificate files
// at start (a missing or garbled file stops the process naming its variable), the one line said when
// a server's certificate is refused, and the warnings about links an attacker on the network could
// read or use.
//
// Postgres takes libpq's parameters in its URL (sslmode, sslrootcert, sslcert, sslkey), so each URL
// (DATABASE_URL, INVOICES_DATABASE_URL, DATABASE_LISTEN_URL) carries its own. Redis takes a rediss://
// REDIS_URL and REDIS_TLS_CA / REDIS_TLS_CERT / REDIS_TLS_KEY (ioredis has no URL form for them).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';

// A TLS setting that cannot work (a file missing or not PEM, parameters that contradict each other).
export class TlsSettingError extends Error {
  override name = 'TlsSettingError';
}

// A server whose certificate this process refused, or a TLS handshake that failed: retrying cannot
// help, so the process stops at start with this message instead of reconnecting forever.
export class TlsRefusedError extends Error {
  override name = 'TlsRefusedError';
}

type PemKind = 'certificate' | 'private key';

// The file's text, once it is known to hold what `kind` says (one or more certificates, or an
// unencrypted private key): Node would otherwise fail at the first connection, or ignore a bad CA.
// `label` says where the path came from (a URL parameter) when the variable alone does not.
export function readPem(path: string, kind: PemKind, label?: string): string {
  const fail = (what: string) => new TlsSettingError(`${label ? `${label}: ` : ''}the file ${path} ${what}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw fail(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (kind === 'private key') {
    try {
      createPrivateKey(text);
    } catch {
      throw fail('is not an unencrypted PEM private key');
    }
    return text;
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw fail('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw fail('holds a certificate that cannot be parsed');
    }
  }
  return text;
}

function checkKeyPair(certPath: string, cert: string, keyPath: string, key: string): void {
  if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new TlsSettingError(`the key in ${keyPath} does not belong to the certificate in ${certPath}`);
}

// --- Postgres --------------------------------------------------------------------------------

const PG_TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];

export interface PostgresTls {
  // The URL postgres.js is given: without the libpq TLS parameters, which it would otherwise send
  // to the server as settings (and Postgres refuses an unknown "sslrootcert").
  url: string;
  // postgres.js's `ssl` option; absent when the URL says nothing about TLS (postgres.js's default).
  options: { ssl?: false | 'allow' | 'prefer' | 'require' | ConnectionOptions };
}

// libpq's meaning of each sslmode, with one difference: verify-ca and verify-full without
// sslrootcert trust the system's CAs (libpq would look for ~/.postgresql/root.crt).
//   disable: no TLS. allow, prefer: TLS if the server offers it, unverified (prefer falls back to plain).
//   require: TLS, unverified (like libpq; with sslrootcert it verifies the chain, like libpq's verify-ca).
//   verify-ca: the chain must lead to the CA. verify-full: that, and the certificate names the host.
export function postgresTls(url: string): PostgresTls {
  const q = url.indexOf('?');
  if (q < 0) return { url, options: {} };
  const params = new URLSearchParams(url.slice(q + 1));
  if (!PG_TLS_PARAMS.some((p) => params.has(p))) return { url, options: {} };
  const [mode, rootcert, cert, key] = PG_TLS_PARAMS.map((p) => params.get(p) ?? undefined);
  for (const p of PG_TLS_PARAMS) params.delete(p);
  const rest = params.toString();
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return { url: url.slice(0, q) + (rest ? `?${rest}` : ''), options: { ssl: sslOption(host, mode, rootcert, cert, key) } };
}

function sslOption(host: string, mode: string | undefined, rootcert?: string, cert?: string, key?: string): NonNullable<PostgresTls['options']['ssl']> {
  if (mode !== undefined && !(SSL_MODES as readonly string[]).includes(mode)) throw new TlsSettingError(`sslmode must be one of ${SSL_MODES.join(', ')} (got "${mode}")`);
  if (rootcert === 'system' && mode !== undefined && mode !== 'verify-full') throw new TlsSettingError('sslrootcert=system needs sslmode=verify-full');
  const effective: SslMode | undefined = rootcert === 'system' ? 'verify-full' : (mode as SslMode | undefined);
  const given = (['sslrootcert', 'sslcert', 'sslkey'] as const).filter((_, i) => [rootcert, cert, key][i] !== undefined);
  if (given.length > 0 && (effective === undefined || effective === 'disable' || effective === 'allow' || effective === 'prefer')) {
    throw new TlsSettingError(`${given[0]} needs sslmode=verify-full (or verify-ca, require); with ${effective ? `sslmode=${effective}` : 'no sslmode'} it would not be used`);
  }
  if ((cert === undefined) !== (key === undefined)) throw new TlsSettingError(cert ? 'sslcert needs sslkey' : 'sslkey needs sslcert');
  if (effective === undefined || effective === 'disable') return false;
  if (effective === 'allow' || effective === 'prefer') return effective;
  const ca = rootcert && rootcert !== 'system' ? readPem(rootcert, 'certificate', 'sslrootcert') : undefined;
  const client = cert && key ? clientPair(cert, key) : {};
  const verify = effective === 'verify-full' || effective === 'verify-ca' || ca !== undefined;
  if (!verify) return Object.keys(client).length > 0 ? { rejectUnauthorized: false, ...client } : 'require';
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    ...client,
    // verify-ca checks the chain only. verify-full checks the certificate names the URL's host:
    // postgres.js hands Node no name for an IP address, and Node would then check "localhost".
    checkServerIdentity: effective === 'verify-full' ? (_name: string, peer: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(host, peer) : () => undefined,
  };
}

function clientPair(certPath: string, keyPath: string): { cert: string; key: string } {
  const cert = readPem(certPath, 'certificate', 'sslcert');
  const key = readPem(keyPath, 'private key', 'sslkey');
  checkKeyPair(certPath, cert, keyPath, key);
  return { cert, key };
}

// --- Redis -----------------------------------------------------------------------------------

export interface RedisTlsFiles {
  REDIS_TLS_CA?: string | undefined;
  REDIS_TLS_CERT?: string | undefined;
  REDIS_TLS_KEY?: string | undefined;
}

// ioredis's `tls` for a rediss:// URL: the CA (unset: the system's) and a client certificate.
// The host name check stays Node's default: the certificate must name the host in the URL.
export function redisTlsOptions(files: RedisTlsFiles): ConnectionOptions {
  return {
    ...(files.REDIS_TLS_CA ? { ca: readPem(files.REDIS_TLS_CA, 'certificate') } : {}),
    ...(files.REDIS_TLS_CERT ? { cert: readPem(files.REDIS_TLS_CERT, 'certificate') } : {}),
    ...(files.REDIS_TLS_KEY ? { key: readPem(files.REDIS_TLS_KEY, 'private key') } : {}),
  };
}

// --- start-up checks -------------------------------------------------------------------------

interface TlsSettings extends RedisTlsFiles {
  DATABASE_URL: string;
  INVOICES_DATABASE_URL?: string | undefined;
  DATABASE_LISTEN_URL?: string | undefined;
  REDIS_URL: string;
}

// [variable, problem] for each TLS setting that cannot work, for the config's one-line error.
export function tlsProblems(c: TlsSettings): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const check = (variable: string, run: () => void) => {
    try {
      run();
    } catch (err) {
      if (!(err instanceof TlsSettingError)) throw err;
      problems.push([variable, err.message]);
    }
  };
  for (const variable of ['DATABASE_URL', 'INVOICES_DATABASE_URL', 'DATABASE_LISTEN_URL'] as const) {
    const url = c[variable];
    if (url) check(variable, () => postgresTls(url));
  }
  const redisFiles = [
    ['REDIS_TLS_CA', 'certificate'],
    ['REDIS_TLS_CERT', 'certificate'],
    ['REDIS_TLS_KEY', 'private key'],
  ] as const;
  for (const [variable, kind] of redisFiles) {
    const path = c[variable];
    if (!path) continue;
    if (!c.REDIS_URL.startsWith('rediss:')) problems.push([variable, 'is set but REDIS_URL starts with redis://: use rediss:// to connect to Redis with TLS']);
    else check(variable, () => readPem(path, kind));
  }
  if (Boolean(c.REDIS_TLS_CERT) !== Boolean(c.REDIS_TLS_KEY))
    problems.push([c.REDIS_TLS_CERT ? 'REDIS_TLS_KEY' : 'REDIS_TLS_CERT', 'REDIS_TLS_CERT and REDIS_TLS_KEY go together (a client certificate and its key)']);
  else if (c.REDIS_TLS_CERT && c.REDIS_TLS_KEY && problems.length === 0) {
    const [certPath, keyPath] = [c.REDIS_TLS_CERT, c.REDIS_TLS_KEY];
    check('REDIS_TLS_KEY', () => checkKeyPair(certPath, readPem(certPath, 'certificate'), keyPath, readPem(keyPath, 'private key')));
  }
  return problems;
}

// --- refused certificates ----------------------------------------------------------------------

// Node's codes for a certificate it refused (OpenSSL's verify results, the host name check) and for
// a failed handshake (ERR_SSL_*: a server without TLS on that port, a client certificate it refused).
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_|ALTNAME|HOSTNAME_MISMATCH|^ERR_SSL_|^ERR_TLS_|^EPROTO$/;

export function isTlsFailure(err: unknown): boolean {
  const e = err as { code?: unknown; lastNodeError?: unknown } | null;
  if (e?.lastNodeError) return isTlsFailure(e.lastNodeError); // a Cluster's "all nodes failed"
  return typeof e?.code === 'string' && TLS_CODE.test(e.code);
}

export function tlsFailureReason(err: unknown): string {
  const e = err as { lastNodeError?: unknown; message?: unknown };
  return String((e.lastNodeError as { message?: unknown } | undefined)?.message ?? e.message ?? err);
}

// The one line for a refused server, naming the variables that fix it.
export function tlsRefusedMessage(service: 'Postgres' | 'Redis', where: string, err: unknown, check: string): string {
  return `cannot connect to ${service} at ${where} over TLS: ${tlsFailureReason(err)}. Check ${check}`;
}

export const POSTGRES_TLS_CHECK = (variable: string) => `sslmode and sslrootcert in ${variable} (sslrootcert: the CA that signed the server's certificate)`;
export const REDIS_TLS_CHECK = "REDIS_TLS_CA (the CA that signed Redis's certificate), REDIS_TLS_CERT/REDIS_TLS_KEY and REDIS_URL";

// --- warnings --------------------------------------------------------------------------------

const isLoopback = (host: string) => host === '' || host === 'localhost' || /^127\./.test(host) || host === '::1' || host === '[::1]';

interface TransportSettings extends TlsSettings {
  REDIS_CLUSTER_NODES?: ReadonlyArray<{ host: string }> | undefined;
}

// Said once at start, for links that leave the machine: a Redis anyone on the network can use (the
// queues can be read, emptied or fed forged jobs), and traffic an attacker on the path can read.
export function transportWarnings(c: TransportSettings): string[] {
  const warnings: string[] = [];
  const redis = new URL(c.REDIS_URL);
  const redisHosts = c.REDIS_CLUSTER_NODES ? c.REDIS_CLUSTER_NODES.map((n) => n.host) : [redis.hostname];
  const remote = redisHosts.find((h) => !isLoopback(h));
  if (remote !== undefined) {
    if (!redis.password)
      warnings.push(
        `Redis at ${remote} has no password (REDIS_URL has none) and is not on loopback: anyone who can reach it can read, delete or forge jobs. Set one (requirepass or an ACL user) and put it in REDIS_URL`,
      );
    if (redis.protocol !== 'rediss:') warnings.push(`Redis at ${remote} is reached without TLS (REDIS_URL is redis://): use rediss:// with REDIS_TLS_CA`);
  }
  for (const variable of ['DATABASE_URL', 'INVOICES_DATABASE_URL', 'DATABASE_LISTEN_URL'] as const) {
    const url = c[variable];
    if (!url) continue;
    const host = new URL(url).hostname;
    if (isLoopback(host)) continue;
    const params = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
    const mode = params.get('sslmode') ?? 'unset';
    if (mode === 'verify-full') continue;
    const why =
      mode === 'verify-ca' || (mode === 'require' && params.has('sslrootcert'))
        ? `sslmode=${mode} checks the CA but not that the certificate names the host`
        : mode === 'require'
          ? 'sslmode=require encrypts but does not check the certificate'
          : `sslmode=${mode} may send it in plain text`;
    warnings.push(`Postgres at ${host} (${variable}) is not verified: ${why}. Use sslmode=verify-full with sslrootcert`);
  }
  return warnings;
}

export function postgresRefusedMessage(variable: string, url: string, err: unknown): string {
  const u = new URL(url);
  return tlsRefusedMessage('Postgres', `${variable} (${u.hostname}:${u.port || 5432})`, err, POSTGRES_TLS_CHECK(variable));
}
