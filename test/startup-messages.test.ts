// When a dependency is missing at start, a role process says what fixes it in one line.
import { describe, expect, it } from 'vitest';
import { createTestContext, waitFor } from './support/context.ts';
import { startNode } from './support/processes.ts';

describe('a role process started on a database that does not exist', () => {
  it('exits 1 naming npm run migrate, which creates it', async () => {
    const ctx = await createTestContext();
    try {
      const missing = new URL(ctx.config.DATABASE_URL);
      missing.pathname = `/outbox_missing_${crypto.randomUUID().slice(0, 8)}`;
      const relay = startNode('src/relay/main.ts', { ...ctx.env, LOG_LEVEL: 'info', DATABASE_URL: missing.toString() });
      const exit = await relay.exited;
      expect(exit.code).toBe(1);
      await waitFor('the fatal line', () => relay.output().includes('does not exist: run npm run migrate'));
      expect(relay.output()).not.toContain('check DATABASE_URL and that Postgres is running');
    } finally {
      await ctx.cleanup();
    }
  });
});
