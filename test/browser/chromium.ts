// Headless Chromium for browser tests: the Debian package's binary driven by playwright-core (never
// `npx playwright install`). Install it with `apt-get install -y chromium`.
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-quic',
  '--no-first-run',
  '--disable-sync',
];

// Bounded waits for every browser step: generous for a loaded CI machine, never open-ended.
export const UI_TIMEOUT_MS = 15_000;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
}

// Why Chromium is not there, or undefined when it is. A machine without the package skips the
// browser tests with this reason; CI installs it (.ci/run) and sets REQUIRE_CHROMIUM=1 so a missing
// browser fails there. An installed Chromium that does not launch is a failure, never a skip.
export function chromiumProblem(): string | undefined {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch {
    const reason = `no Chromium executable at ${CHROMIUM_PATH} (install it with: apt-get install -y chromium)`;
    if (process.env.REQUIRE_CHROMIUM === '1') throw new Error(reason);
    return reason;
  }
}

// A browser context that may only talk to the system under test: anything else is aborted, so the
// test is hermetic and never waits on the internet (watchPage records such a request as a failure).
export async function newHermeticContext(browser: Browser, baseUrl: string, httpCredentials?: { username: string; password: string }): Promise<BrowserContext> {
  const origin = new URL(baseUrl).origin;
  const context = await browser.newContext({ ...(httpCredentials ? { httpCredentials } : {}), viewport: { width: 1440, height: 900 } });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(UI_TIMEOUT_MS);
  await context.route(
    (url) => url.origin !== origin,
    (route) => route.abort(),
  );
  return context;
}

// What a self-contained page under a strict Content-Security-Policy must never do: violate its
// policy (the document's securitypolicyviolation events), log a console error, throw, or request
// anything from a host that is not loopback. Call before the first navigation.
export interface PageWatch {
  violations: string[];
  consoleErrors: string[];
  pageErrors: string[];
  offLoopback: string[];
}

export async function watchPage(page: Page): Promise<PageWatch> {
  const watch: PageWatch = { violations: [], consoleErrors: [], pageErrors: [], offLoopback: [] };
  await page.exposeFunction('__reportCspViolation', (violation: string) => watch.violations.push(violation));
  // A string, not a function: it runs in the page, which this Node project has no DOM types for.
  await page.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) =>
      window.__reportCspViolation(e.effectiveDirective + ' refused ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber + ' ' + e.sample));`,
  });
  page.on('console', (message) => {
    if (message.type() === 'error') watch.consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (err) => watch.pageErrors.push(err.message));
  page.on('request', (request) => {
    if (!isLoopback(request.url())) watch.offLoopback.push(request.url());
  });
  return watch;
}

// data:, blob: and the like reach no host; http(s) and ws(s) must stay on this machine.
function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(protocol)) return true;
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

// Teardown: each step runs whatever happened to the ones before it; the first error is reported at the end.
export async function runEvery(steps: Array<() => unknown>): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
}
