import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseDemoArgs, usage, UsageError } from './args.ts';

const URL_DEFAULT = 'http://localhost:8080';
const parse = (argv: string[]) => parseDemoArgs(argv, URL_DEFAULT, () => 42);

describe('parseDemoArgs', () => {
  it('has defaults for every flag, with a random seed', () => {
    expect(parse([])).toEqual({ ...DEFAULTS, url: URL_DEFAULT, seed: 42, help: false });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    expect(parse(['--orders', '500', '--rate=12.5', '--url', 'http://127.0.0.1:9000/', '--timeout-s', '5', '--concurrency=8', '--seed', '0'])).toEqual({
      orders: 500,
      rate: 12.5,
      url: 'http://127.0.0.1:9000',
      timeoutS: 5,
      concurrency: 8,
      seed: 0,
      help: false,
    });
    expect(parse(['-h']).help).toBe(true);
  });

  it('refuses unknown flags, positionals, bad numbers and bad URLs with a usage error', () => {
    const bad = [
      ['--order', '5'],
      ['extra'],
      ['--orders', '0'],
      ['--orders', '1.5'],
      ['--orders', 'ten'],
      ['--orders'],
      ['--rate', '0'],
      ['--rate', '-1'],
      ['--rate', 'fast'],
      ['--timeout-s', '0'],
      ['--concurrency', '0'],
      ['--url', 'localhost:8080'],
      ['--url', 'ftp://example.com'],
      ['--seed', '-3'],
    ];
    for (const argv of bad) expect(() => parse(argv), argv.join(' ')).toThrow(UsageError);
  });

  it('names the default URL and every flag in the usage', () => {
    const text = usage('http://localhost:1234');
    expect(text).toContain('default http://localhost:1234');
    for (const flag of ['--orders', '--rate', '--url', '--timeout-s', '--concurrency', '--seed']) expect(text).toContain(flag);
  });
});
