import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('has defaults that run on a machine with Postgres and Redis on their default ports', () => {
    const config = loadConfig({});
    expect(config.DATABASE_URL).toBe('postgres://postgres:postgres@localhost:5432/outbox');
    expect(config.REDIS_URL).toBe('redis://localhost:6379');
    expect(config.PORT).toBe(8080);
    expect(config.WORKER_QUEUES).toEqual(['payments', 'deliveries', 'invoices']);
    expect(config.ADMIN_PASSWORD).toBeUndefined();
    expect(config.GATEWAY_FAILURE_RATE).toBe(0);
    expect(config.GATEWAY_DECLINE_OVER_CENTS).toBeUndefined();
  });

  it('parses numbers, rates and lists', () => {
    const config = loadConfig({ PORT: '9000', GATEWAY_FAILURE_RATE: '0.25', WORKER_QUEUES: 'invoices, payments,invoices' });
    expect(config.PORT).toBe(9000);
    expect(config.GATEWAY_FAILURE_RATE).toBe(0.25);
    expect(config.WORKER_QUEUES).toEqual(['invoices', 'payments']);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', ADMIN_PASSWORD: '' }).PORT).toBe(8080);
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['GATEWAY_FAILURE_RATE', '1.5'],
    ['WORKER_QUEUES', 'payments,shipping'],
    ['DATABASE_URL', 'mysql://localhost/outbox'],
    ['QUEUE_PREFIX', 'a:b'],
    ['LOG_LEVEL', 'loud'],
  ])('stops with one line naming %s when it is %s', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(name);
    expect(message).not.toContain('\n');
  });

  it('refuses retention shorter than the jobs it must outlive', () => {
    expect(() => loadConfig({ OUTBOX_RETENTION_S: '3600', JOB_KEEP_FAILED_S: '7200' })).toThrow(/OUTBOX_RETENTION_S: must be at least JOB_KEEP_FAILED_S/);
    expect(() => loadConfig({ PG_POOL_MAX: '2', RELAY_CONCURRENCY: '2' })).toThrow(/PG_POOL_MAX: must be more than RELAY_CONCURRENCY/);
    expect(() => loadConfig({ INBOX_RETENTION_S: '3600', JOB_KEEP_COMPLETED_S: '7200' })).toThrow(/INBOX_RETENTION_S/);
  });

  it('refuses a queue prefix without a {hash tag} on a Redis Cluster, naming the fix', () => {
    const cluster = { REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001' };
    expect(() => loadConfig({ ...cluster, QUEUE_PREFIX: 'myapp' })).toThrow(/QUEUE_PREFIX: must contain a \{hash tag\}.*use QUEUE_PREFIX=\{myapp\}/);
    expect(loadConfig({ ...cluster, QUEUE_PREFIX: 'myapp{orders}' }).QUEUE_PREFIX).toBe('myapp{orders}');
    expect(loadConfig({ QUEUE_PREFIX: 'myapp' }).QUEUE_PREFIX).toBe('myapp'); // one Redis: any prefix
  });

  it('never echoes a URL or password back', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:hunter2@localhost/x' })).toThrow(/^(?!.*hunter2)/);
  });
});

describe('.env.example', () => {
  it('lists every variable of the schema and nothing else, with the schema defaults', async () => {
    const { readFile } = await import('node:fs/promises');
    const { configSchema } = await import('./config.ts');
    const text = await readFile(new URL('../.env.example', import.meta.url), 'utf8');
    const entries = text
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split('=', 2) as [string, string]);
    expect(entries.map(([k]) => k).sort()).toEqual(Object.keys(configSchema.shape).sort());
    // The example's values are the defaults: parsing it gives the same config as parsing nothing.
    expect(loadConfig(Object.fromEntries(entries))).toEqual(loadConfig({}));
  });
});

describe('README.md', () => {
  it('documents every variable of the schema in its configuration table', async () => {
    const { readFile } = await import('node:fs/promises');
    const { configSchema } = await import('./config.ts');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Guarantees'));
    const missing = Object.keys(configSchema.shape).filter((key) => !table.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });
});
