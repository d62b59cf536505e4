import os from 'node:os';
import { defineConfig } from 'vitest/config';

// Timeouts scale with the machine's load when the run starts (as test/support/context.ts loadFactor
// does for each wait): two shared cores may be busy with other work.
const loadFactor = Math.min(5, Math.max(1, os.loadavg()[0]! / os.cpus().length));

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // Two cores: two test files at a time, each with its own database and queue prefix.
    maxWorkers: 2,
    testTimeout: Math.round(60_000 * loadFactor),
    hookTimeout: Math.round(60_000 * loadFactor),
  },
});
