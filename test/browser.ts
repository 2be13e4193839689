/**
 * Debian's Chromium for the browser tests, driven by playwright-core: no browser is ever
 * downloaded. Where it is not installed the tests are skipped, unless REQUIRE_BROWSER=1 (CI
 * installs it and sets that), so that they cannot silently not run there.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying to reach Google's hosts.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const missing = !existsSync(CHROMIUM);
if (missing && process.env.REQUIRE_BROWSER === '1') throw new Error(`${CHROMIUM} is missing and REQUIRE_BROWSER=1: apt-get install -y chromium`);

/** For a test's `skip` option: why it cannot run here, or false. */
export const browserMissing: string | false = missing && `${CHROMIUM} is not installed (apt-get install -y chromium)`;

/** A fresh headless Chromium with an empty profile, closed after the test. */
export async function launchBrowser(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, chromiumSandbox: false });
  t.after(() => browser.close());
  return browser;
}
