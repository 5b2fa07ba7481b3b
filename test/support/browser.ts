import { existsSync } from 'node:fs';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';

/** Where Chromium is: `CHROMIUM_PATH`, else Debian's package (`.ci/run` installs it when missing). */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p): p is string => Boolean(p) && existsSync(p!));
  if (!found) {
    throw new Error(
      'Chromium not found: set CHROMIUM_PATH or install it (`apt-get install -y chromium`, as .ci/run does)',
    );
  }
  return found;
}

/** A headless Chromium driven by playwright-core; one per test file is plenty (contexts isolate tests). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/**
 * A test file's browser: launched before its tests, each test's pages closed after it, closed
 * after all. `newPage` opens a page in a fresh context (its own cookies, nothing shared).
 */
export function useBrowser(defaults: BrowserContextOptions = {}) {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    async newPage(options: BrowserContextOptions = {}): Promise<Page> {
      const context = await browser!.newContext({ ...defaults, ...options });
      contexts.push(context);
      return context.newPage();
    },
  };
}
