// Debian's Chromium for the browser tests, installed on first use when this user may (root with apt-get),
// and launched so that it makes no connections of its own: this network refuses them.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** apt-get may take minutes on a slow mirror. */
export const INSTALL_TIMEOUT_MS = 10 * 60_000;

const apt = (args: string[]) =>
  execFileSync('apt-get', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: INSTALL_TIMEOUT_MS,
  });

export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (process.getuid?.() !== 0 || !hasApt) {
    throw new Error(
      `The browser tests need Debian's Chromium at ${CHROMIUM}. Install it with \`sudo apt-get install -y chromium\`` +
        (hasApt ? '' : " (or your system's chromium package, linked at that path)") +
        ', then run the tests again.',
    );
  }
  try {
    apt(['install', '-y', '--no-install-recommends', 'chromium']);
  } catch {
    // Fresh machines often have no package lists yet.
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', 'chromium']);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} is not there`);
  return CHROMIUM;
}

export function launchChromium(): Promise<Browser> {
  // Playwright gives each launch a fresh profile directory of its own and removes it on close.
  return chromium.launch({
    executablePath: ensureChromium(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
