// The TLS settings as the drivers get them, and the start-up warnings (no servers needed; the
// connections themselves are tested against real servers in test/tls.test.ts).
import { describe, expect, it } from 'vitest';
import { postgresTls, TlsSettingError, transportWarnings } from './tls.ts';

describe('postgresTls', () => {
  it('leaves a URL without TLS parameters to postgres.js', () => {
    expect(postgresTls('postgres://u@db:5432/app?application_name=x')).toEqual({ url: 'postgres://u@db:5432/app?application_name=x', options: {} });
  });

  it('takes the libpq parameters out of the URL, so postgres.js does not send them to the server', () => {
    const tls = postgresTls('postgres://u@db:5432/app?sslmode=require&application_name=x');
    expect(tls).toEqual({ url: 'postgres://u@db:5432/app?application_name=x', options: { ssl: 'require' } });
    expect(postgresTls('postgres://u@db/app?sslmode=disable').options.ssl).toBe(false);
    expect(postgresTls('postgres://u@db/app?sslmode=prefer').options.ssl).toBe('prefer');
  });

  it('verifies with the system CAs when verify-full has no sslrootcert, and checks the host name', () => {
    const { url, options } = postgresTls('postgres://u@db.internal/app?sslmode=verify-full');
    expect(url).toBe('postgres://u@db.internal/app');
    const ssl = options.ssl as { rejectUnauthorized: boolean; ca?: string; checkServerIdentity: (host: string, cert: unknown) => Error | undefined };
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(ssl.ca).toBeUndefined();
    // A certificate for another host fails the check (Node's own, against the URL's host).
    const other = { subject: { CN: 'other.example' }, subjectaltname: 'DNS:other.example' };
    expect(ssl.checkServerIdentity('ignored', other)).toBeInstanceOf(Error);
    expect(ssl.checkServerIdentity('ignored', { subject: { CN: 'db.internal' }, subjectaltname: 'DNS:db.internal' })).toBeUndefined();
    expect((postgresTls('postgres://u@db/app?sslrootcert=system').options.ssl as { rejectUnauthorized: boolean }).rejectUnauthorized).toBe(true);
  });

  it('refuses parameters that would not do what they say', () => {
    expect(() => postgresTls('postgres://u@db/app?sslmode=verify')).toThrow(/sslmode must be one of/);
    expect(() => postgresTls('postgres://u@db/app?sslrootcert=/ca.pem')).toThrow(/sslrootcert needs sslmode=verify-full .*with no sslmode/);
    expect(() => postgresTls('postgres://u@db/app?sslmode=prefer&sslrootcert=/ca.pem')).toThrow(TlsSettingError);
    expect(() => postgresTls('postgres://u@db/app?sslmode=require&sslrootcert=system')).toThrow(/sslrootcert=system needs sslmode=verify-full/);
    expect(() => postgresTls('postgres://u@db/app?sslmode=verify-full&sslcert=/c.pem')).toThrow(/sslcert needs sslkey/);
  });
});

describe('transportWarnings', () => {
  const base = { DATABASE_URL: 'postgres://u@localhost/app', REDIS_URL: 'redis://localhost:6379' };

  it('says nothing on loopback', () => {
    expect(transportWarnings(base)).toEqual([]);
    expect(transportWarnings({ ...base, REDIS_URL: 'redis://127.0.0.1:6380', DATABASE_URL: 'postgres://u@[::1]/app' })).toEqual([]);
  });

  it('warns about a remote Redis without a password, or without TLS', () => {
    const open = transportWarnings({ ...base, REDIS_URL: 'redis://cache.internal:6379' });
    expect(open).toHaveLength(2);
    expect(open[0]).toMatch(/Redis at cache\.internal has no password \(REDIS_URL has none\) and is not on loopback/);
    expect(open[1]).toMatch(/without TLS \(REDIS_URL is redis:\/\/\)/);
    expect(transportWarnings({ ...base, REDIS_URL: 'rediss://:secret@cache.internal:6379' })).toEqual([]);
    const cluster = transportWarnings({ ...base, REDIS_CLUSTER_NODES: [{ host: '127.0.0.1' }, { host: '10.0.0.7' }] });
    expect(cluster[0]).toMatch(/Redis at 10\.0\.0\.7 has no password/);
  });

  it('warns about a remote Postgres that is not verified with verify-full', () => {
    const warn = (url: string) => transportWarnings({ ...base, DATABASE_URL: url });
    expect(warn('postgres://u@db.internal/app')[0]).toMatch(/Postgres at db\.internal \(DATABASE_URL\) is not verified: sslmode=unset may send it in plain text/);
    expect(warn('postgres://u@db.internal/app?sslmode=require')[0]).toMatch(/encrypts but does not check the certificate/);
    expect(warn('postgres://u@db.internal/app?sslmode=verify-ca&sslrootcert=/ca.pem')[0]).toMatch(/checks the CA but not that the certificate names the host/);
    expect(warn('postgres://u@db.internal/app?sslmode=verify-full&sslrootcert=/ca.pem')).toEqual([]);
    expect(transportWarnings({ ...base, DATABASE_LISTEN_URL: 'postgres://u@db.internal/app' })[0]).toMatch(/\(DATABASE_LISTEN_URL\)/);
  });
});
