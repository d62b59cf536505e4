// Bull Board in headless Chromium: the board refuses a browser without credentials, and an operator
// who logs in sees the queues, finds a declined payment in the failed set and retries it with the
// job's Retry button. BullMQ, not the page, is the judge of whether the retry happened. All of it
// under the board's strict Content-Security-Policy: no violation, no console error, no request to
// any host but this one, and the page's fonts self-hosted.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ADMIN_PASSWORD, waitFor, type TestContext } from '../support/context.ts';
import { PIZZA, postJson, startSystem, type RunningSystem } from '../support/system.ts';
import { chromiumProblem, launchChromium, newHermeticContext, UI_TIMEOUT_MS, watchPage, runEvery } from './chromium.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const QUEUES = ['payments', 'deliveries', 'invoices'] as const;

const problem = chromiumProblem();
if (problem) console.warn(`Skipping the Bull Board browser tests: ${problem}`);

describe.skipIf(problem !== undefined)(`Bull Board in headless Chromium${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let ctx: TestContext | undefined;
  let system: RunningSystem | undefined;
  let browser: Browser | undefined;
  let jobId: string;

  beforeAll(async () => {
    // Every charge over a dollar declined: the seed's pizza order (2 × 19.99) is.
    ctx = await createTestContext({ GATEWAY_DECLINE_OVER_CENTS: '100' });
    system = await startSystem(ctx);
    browser = await launchChromium();

    const res = await postJson(`${system.url}/pizza`, PIZZA);
    expect(res.status).toBe(201);
    const orderId = ((await res.json()) as { id: string }).id;
    const [event] = await ctx.sql<{ id: string }[]>`SELECT id FROM outbox WHERE aggregate_id = ${orderId} AND event_type = 'order.created'`;
    jobId = event!.id;
    const payments = system.queues.payments;
    await waitFor('the declined payment job to reach the failed set', async () => (await payments.getJobState(jobId)) === 'failed', UI_TIMEOUT_MS);
  });

  afterAll(() => runEvery([() => browser?.close(), () => system?.stop(), () => ctx?.cleanup()]));

  it('refuses the page and its API to a browser without credentials', async () => {
    const context = await newHermeticContext(browser!, system!.url);
    try {
      const page = await context.newPage();
      for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
        const response = await gotoUnauthorized(page, `${system!.url}${path}`);
        expect(response.status, path).toBe(401);
        expect(response.challenge, path).toMatch(/^Basic /);
      }
      // Nor can it act: a retry through the API without credentials is refused and changes nothing.
      const put = await page.request.put(`${system!.url}/admin/queues/api/queues/payments/${jobId}/retry`);
      expect(put.status()).toBe(401);
      expect(await system!.queues.payments.getJobState(jobId)).toBe('failed');
    } finally {
      await context.close();
    }
  });

  it('shows the three queues and retries the declined payment from the job’s Retry button', async () => {
    const payments = system!.queues.payments;
    const before = (await payments.getJob(jobId))!;
    expect(before.attemptsMade).toBe(1);
    expect(before.failedReason).toContain('card declined');

    const context = await newHermeticContext(browser!, system!.url, { username: 'admin', password: TEST_ADMIN_PASSWORD });
    const page = await context.newPage();
    try {
      const watch = await watchPage(page);
      page.on('dialog', (dialog) => void dialog.accept()); // a native confirm(), should the board use one

      const response = await page.goto(`${system!.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      const policy = response!.headers()['content-security-policy'];
      expect(policy).toContain("frame-ancestors 'none'");
      expect(policy).not.toMatch(/'unsafe-inline'|'unsafe-eval'/);

      // The sidebar lists every queue.
      const nav = page.getByRole('navigation');
      for (const name of QUEUES) await nav.getByRole('link', { name, exact: true }).waitFor();

      // Into the payments queue, then its failed tab.
      await nav.getByRole('link', { name: 'payments', exact: true }).click();
      await page.getByRole('heading', { name: 'payments', level: 1 }).waitFor();
      const main = page.getByRole('main');
      await main.getByRole('link', { name: /^failed\b/i }).click();
      await page.waitForURL((url) => url.pathname === '/admin/queues/queue/payments' && url.searchParams.get('status') === 'failed');

      // The declined job's card: the innermost block holding both its id link and its failure reason.
      const card = main
        .locator('div')
        .filter({ has: page.getByRole('link', { name: jobId, exact: true }) })
        .filter({ hasText: 'card declined' })
        .last();
      await card.waitFor();

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}board-queues.png`, fullPage: true });

      // The job data editor (CodeMirror) styles itself with <style> elements it creates at run
      // time: the page's nonce script must get them past the policy, or the editor is unstyled.
      await (await jobActionLabelled(page, card, 'Update Data')).click();
      const editor = page.getByRole('dialog').locator('.cm-editor');
      await editor.getByText('"order.created"').waitFor();
      // Styled, the line numbers sit beside the text; unstyled, above it.
      const gutters = (await editor.locator('.cm-gutters').boundingBox())!;
      const content = (await editor.locator('.cm-content').boundingBox())!;
      expect(content.x).toBeGreaterThanOrEqual(gutters.x + gutters.width);
      await page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();
      await page.getByRole('dialog').waitFor({ state: 'hidden' });

      const retry = await jobActionLabelled(page, card, 'Retry');
      const retryRequest = page.waitForResponse((r) => r.request().method() === 'PUT' && new URL(r.url()).pathname === `/admin/queues/api/queues/payments/${jobId}/retry`);
      retryRequest.catch(() => {}); // awaited below; keeps an early failure from going unhandled
      await retry.click();
      const confirm = page.getByRole('alertdialog');
      const first = await Promise.race([
        confirm.waitFor().then(
          () => 'confirm' as const,
          () => 'no confirm' as const,
        ),
        retryRequest.then(
          () => 'sent' as const,
          () => 'not sent' as const,
        ),
      ]);
      if (first === 'confirm') {
        await expect(confirm.textContent()).resolves.toContain('retry this job');
        await confirm.getByRole('button', { name: 'Confirm', exact: true }).click();
      }
      expect((await retryRequest).status()).toBe(204);

      // The retry ran the job again: one more attempt, a new processing time. The card is still
      // declined, so it ends in the failed set again.
      const after = await waitFor(
        'the retried job to have run a second attempt and failed again',
        async () => {
          const job = await payments.getJob(jobId);
          return job && job.attemptsMade === before.attemptsMade + 1 && (await job.getState()) === 'failed' ? job : undefined;
        },
        UI_TIMEOUT_MS,
      );
      expect(after.processedOn).toBeGreaterThan(before.processedOn!);
      expect(after.failedReason).toContain('card declined');

      // The board's own fonts, from this server, not Google's.
      expect(await loadedFontFamilies(page)).toContain('IBM Plex Sans');
      expect(watch).toEqual({ violations: [], consoleErrors: [], pageErrors: [], offLoopback: [] });
    } catch (err) {
      // What the browser showed when it went wrong, next to the regular artifact.
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}board-failure.png`, fullPage: true }).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });

  it('refuses forms that a page on another origin submits from the logged-in operator’s browser', async () => {
    const outboxId = jobId; // the job id is its outbox row's id: published, so a replay would succeed
    const forgery = await startForgeryServer(system!.url, outboxId);
    const context = await browser!.newContext({ httpCredentials: { username: 'admin', password: TEST_ADMIN_PASSWORD, origin: new URL(system!.url).origin } });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    // Loopback only: the board's server and the forgery's.
    await context.route(
      (url) => url.hostname !== '127.0.0.1',
      (route) => route.abort(),
    );
    const [row] = await ctx!.sql<{ published_at: Date }[]>`SELECT published_at FROM outbox WHERE id = ${outboxId}`;
    const before = { job: await system!.queues.payments.getJob(jobId), counts: await system!.queues.payments.getJobCounts() };
    try {
      const page = await context.newPage();
      // Logged in: the board answers this browser.
      expect((await page.goto(`${system!.url}/admin/queues`))?.status()).toBe(200);
      for (const [form, action] of [
        ['/replay', `${system!.url}/admin/outbox/${outboxId}/replay`],
        ['/add', `${system!.url}/admin/queues/api/queues/payments/add`],
      ] as const) {
        const answered = page.waitForResponse((r) => r.url() === action && r.request().method() === 'POST');
        answered.catch(() => {});
        await page.goto(`${forgery.url}${form}`);
        const response = await answered;
        expect(response.status(), form).toBe(403);
        expect(response.request().headers().origin, form).toBe(forgery.url);
      }
    } finally {
      await context.close();
      await forgery.close();
    }
    // Nothing changed: the row was not replayed (its job not removed), no job was added.
    const [after] = await ctx!.sql<{ published_at: Date }[]>`SELECT published_at FROM outbox WHERE id = ${outboxId}`;
    expect(after!.published_at).toEqual(row!.published_at);
    expect((await system!.queues.payments.getJob(jobId))?.timestamp).toBe(before.job!.timestamp);
    expect(await system!.queues.payments.getJobCounts()).toEqual(before.counts);
  });
});

// A page on another origin (another loopback port: the same site, not the same origin) that
// submits a form to the board's server as soon as it loads, as a forged-request page would.
async function startForgeryServer(target: string, outboxId: string): Promise<{ url: string; close(): Promise<void> }> {
  const forms: Record<string, string> = {
    '/replay': `<form method="POST" action="${target}/admin/outbox/${outboxId}/replay"></form>`,
    // text/plain: the body reads {"name":"forged","data":{},"options":{},"x":"="}, JSON that Bull Board accepts.
    '/add': `<form method="POST" enctype="text/plain" action="${target}/admin/queues/api/queues/payments/add"><input name='{"name":"forged","data":{},"options":{},"x":"' value='"}'></form>`,
  };
  const server = createServer((req, res) => {
    const form = forms[req.url ?? ''];
    if (!form) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><body>${form}<script>document.forms[0].submit()</script></body>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// Chromium answers a Basic challenge it has no credentials for by failing the navigation
// (net::ERR_INVALID_AUTH_CREDENTIALS) after the 401 arrives, so the 401 is read off the response itself.
async function gotoUnauthorized(page: Page, url: string): Promise<{ status: number; challenge: string | undefined }> {
  const seen = page.waitForResponse((r) => r.url() === url);
  seen.catch(() => {});
  const navigation = await page.goto(url).then(
    (response) => ({ response }),
    (error: Error) => ({ error }),
  );
  if ('error' in navigation && !navigation.error.message.includes('ERR_INVALID_AUTH_CREDENTIALS')) throw navigation.error;
  const response = await seen;
  return { status: response.status(), challenge: response.headers()['www-authenticate'] };
}

// The font families the page has loaded, once its pending font loads are done. (A string: it runs
// in the page, which this project has no DOM types for.)
async function loadedFontFamilies(page: Page): Promise<string[]> {
  const families = await page.evaluate(`document.fonts.ready.then(() => [...document.fonts].filter((f) => f.status === 'loaded').map((f) => f.family.replaceAll('"', '')))`);
  return [...new Set(families as string[])];
}

// Bull Board's job actions are icon buttons named only by a tooltip: hover each one until the
// tooltip that opens for it reads `label`.
async function jobActionLabelled(page: Page, card: Locator, label: string): Promise<Locator> {
  const items = card.getByRole('listitem').filter({ has: page.getByRole('button') });
  const seen: string[] = [];
  for (let i = 0; i < (await items.count()); i++) {
    const item = items.nth(i);
    await item.getByRole('button').hover();
    await item.locator('[data-popup-open]').waitFor(); // this button's tooltip is the open one
    const tooltip = page.getByText(label, { exact: true });
    if (
      await tooltip.waitFor({ timeout: 1000 }).then(
        () => true,
        () => false,
      )
    )
      return item.getByRole('button');
    seen.push(`#${i + 1}`);
  }
  throw new Error(`no job action labelled "${label}" among the card's buttons (${seen.join(', ') || 'none'})`);
}
