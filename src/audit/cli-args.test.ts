import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTLE_MS, parseCliArgs, UsageError } from './cli-args.ts';

describe('parseCliArgs', () => {
  it('has defaults for every flag', () => {
    expect(parseCliArgs([])).toEqual({ settleMs: DEFAULT_SETTLE_MS, strict: false, jsonFile: undefined, limit: 100, help: false });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    expect(parseCliArgs(['--settle-ms', '0', '--strict', '--json=out.json', '--limit', '5'])).toEqual({
      settleMs: 0,
      strict: true,
      jsonFile: 'out.json',
      limit: 5,
      help: false,
    });
  });

  it('refuses unknown flags, positionals and bad numbers with a usage error', () => {
    for (const argv of [['--settle'], ['extra'], ['--settle-ms', '-1'], ['--settle-ms', '1.5'], ['--limit', 'ten'], ['--json'], ['--json=']]) {
      expect(() => parseCliArgs(argv), argv.join(' ')).toThrow(UsageError);
    }
  });
});
