// The API reference at /docs in headless Chromium, with no internet: the page renders the OpenAPI
// document from this server's own files (Swagger UI from the pinned npm package), under its strict
// Content-Security-Policy, with no violation, no console error and no request to any host but this
// one; and its "Try it out" reaches the API.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/context.ts';
import { startSystem, type RunningSystem } from '../support/system.ts';
import { chromiumProblem, launchChromium, newHermeticContext, watchPage, runEvery } from './chromium.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

const problem = chromiumProblem();
if (problem) console.warn(`Skipping the API reference browser test: ${problem}`);

describe.skipIf(problem !== undefined)(`The API reference in headless Chromium${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let ctx: TestContext | undefined;
  let system: RunningSystem | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    ctx = await createTestContext();
    system = await startSystem(ctx, ['api']);
    browser = await launchChromium();
  });

  afterAll(() => runEvery([() => browser?.close(), () => system?.stop(), () => ctx?.cleanup()]));

  it('renders the operations offline under its policy and runs one against the API', async () => {
    const context = await newHermeticContext(browser!, system!.url);
    const page = await context.newPage();
    try {
      const watch = await watchPage(page);
      const response = await page.goto(`${system!.url}/docs`);
      expect(response?.status()).toBe(200);
      const policy = response!.headers()['content-security-policy'];
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toMatch(/'unsafe-inline'|'unsafe-eval'|'unsafe-hashes'|https?:/);

      // Operations from the OpenAPI document, by their summaries and paths.
      const createOrder = page.locator('.opblock').filter({ hasText: 'Place an order' }).filter({ hasText: '/orders' }).first();
      await createOrder.waitFor();
      const live = page.locator('.opblock').filter({ hasText: 'The process is up' });
      await live.getByText('/health/live', { exact: true }).waitFor();

      // Try it out: the page's fetch to this origin is allowed (connect-src 'self') and answered.
      await live.getByText('The process is up').click();
      await live.getByRole('button', { name: 'Try it out' }).click();
      const liveRequest = page.waitForResponse((r) => new URL(r.url()).pathname === '/health/live');
      liveRequest.catch(() => {}); // awaited below; keeps an early failure from going unhandled
      await live.getByRole('button', { name: 'Execute' }).click();
      expect((await liveRequest).status()).toBe(200);
      await live.locator('.responses-table.live-responses-table').getByText('200', { exact: true }).first().waitFor();

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}docs.png`, fullPage: true });
      expect(watch).toEqual({ violations: [], consoleErrors: [], pageErrors: [], offLoopback: [] });
    } catch (err) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}docs-failure.png`, fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
});
