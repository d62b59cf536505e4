// Headless Chromium for browser tests: the Debian package's binary driven by playwright-core (never
// `npx playwright install`). Install it with `apt-get install -y chromium`.
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

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

// A browser context that may only talk to the system under test: anything else (Bull Board's page
// links Google Fonts) is aborted, so the test is hermetic and never waits on the internet.
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
