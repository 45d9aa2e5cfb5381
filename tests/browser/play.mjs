// Plays an HLS ladder in headless Chromium with hls.js, every level in turn, and prints what the
// browser measured as one JSON object on stdout (see player.html for the fields).
//
//   node tests/browser/play.mjs URL [--timeout MS]
//
// URL is either the player page (player.html served next to hls.min.js, with ?src=MASTER) or a
// master playlist (…/master.m3u8): then player.html and hls.js are served from this directory
// by request interception, at the playlist's origin, so any static HTTP server will do.
// --timeout bounds the whole run (default 50000 ms); each level is bounded by player.html.
// Exit status: 0 when the page ran to completion (playback problems are in the JSON, for the
// caller to judge), 1 when the browser could not be driven or the run timed out.
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const timeoutAt = args.indexOf('--timeout');
const timeoutMs = timeoutAt >= 0 ? Number(args.splice(timeoutAt, 2)[1]) : 50000;
if (args.length !== 1 || !(timeoutMs > 0)) {
  console.error('usage: node play.mjs URL [--timeout MS]');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const result = { url: args[0], browser: null, console: [], pageErrors: [], error: null };
let browser;

// Never hang: past the limit, print what we have and leave (the browser dies with us).
const timer = setTimeout(() => {
  result.error = `timed out after ${timeoutMs} ms`;
  console.log(JSON.stringify(result));
  process.exit(1);
}, timeoutMs);

try {
  let pageUrl = new URL(args[0]);
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: 20000,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage'],
  });
  result.browser = browser.version();
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') result.console.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => result.pageErrors.push(String(e)));
  if (pageUrl.pathname.endsWith('.m3u8')) {
    const player = new URL('/__pertitle_player/', pageUrl);
    await page.route(`${player.href}*`, async (route) => {
      const name = new URL(route.request().url()).pathname.split('/').pop();
      const file = name === 'hls.min.js' ? join(here, 'node_modules/hls.js/dist/hls.min.js') : join(here, 'player.html');
      const contentType = name === 'hls.min.js' ? 'text/javascript' : 'text/html';
      await route.fulfill({ body: await readFile(file), contentType });
    });
    const src = pageUrl.href;
    pageUrl = new URL('player.html', player);
    pageUrl.searchParams.set('src', src);
  }
  await page.goto(pageUrl.href, { timeout: 15000 });
  Object.assign(result, await page.evaluate(() => window.pertitleResult));
} catch (e) {
  result.error = String(e?.message ?? e);
} finally {
  clearTimeout(timer);
  await browser?.close().catch(() => {});
}
console.log(JSON.stringify(result));
process.exit(result.error && !result.plays ? 1 : 0);
