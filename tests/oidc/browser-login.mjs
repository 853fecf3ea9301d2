// browser-login.mjs — drives headless Debian Chromium (/usr/bin/chromium, via playwright-core)
// through a browser login for login-broker tests.
//
//   node browser-login.mjs --url LOGIN_URL --username alice [--password pw]
//        [--screenshot /path.png] [--expect-text "signed in"] [--timeout-ms 30000]
//
// Opens LOGIN_URL (the broker, which redirects to the provider), fills the provider's login
// form (the visible password field, and the text/email field of the same form), submits,
// clicks a consent button (Continue/Allow/Accept/Authorize/Yes) if one appears, and stops when
// the page text contains --expect-text (case-insensitive) or the browser is back on
// LOGIN_URL's origin after the login form was submitted.
// stdout: one JSON line {"finalUrl","status","title","text"} and exit 0, or
//         {"error","finalUrl","status","title","text"} and exit 1.
// Each run launches its own browser (own temp profile), so runs can go in parallel.

import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string', default: 'password' },
    screenshot: { type: 'string' },
    'expect-text': { type: 'string', default: 'signed in' },
    'timeout-ms': { type: 'string', default: '30000' },
  },
});
if (!args.url || !args.username) {
  console.error('usage: node browser-login.mjs --url LOGIN_URL --username NAME [--password PW] '
    + '[--screenshot FILE.png] [--expect-text TEXT] [--timeout-ms MS]');
  process.exit(2);
}
const timeoutMs = Number(args['timeout-ms']);
const deadline = Date.now() + timeoutMs;
const remaining = () => Math.max(1, deadline - Date.now());
const loginOrigin = new URL(args.url).origin;
const expectText = args['expect-text'].toLowerCase();
const CONSENT = /^\s*(continue|allow|accept|authori[sz]e|grant|yes|consent|approve)\b/i;

let browser;
let page;
let status = null;
let stage = 'launching the browser'; // reported on timeout

async function snapshot() {
  if (!page) return { finalUrl: null, status, title: '', text: '' };
  const title = await page.title().catch(() => '');
  const text = await bodyText();
  return { finalUrl: page.url(), status, title, text: text.trim() };
}

let finished = false;
async function finish(error) {
  if (finished) return new Promise(() => {}); // the other caller is already exiting
  finished = true;
  const result = await snapshot();
  if (args.screenshot && page) await page.screenshot({ path: args.screenshot, fullPage: true }).catch(() => {});
  await browser?.close().catch(() => {});
  process.stdout.write(`${JSON.stringify(error ? { error, ...result } : result)}\n`);
  process.exit(error ? 1 : 0);
}

// Hard bound, whatever hangs.
setTimeout(() => finish(`timeout after ${timeoutMs} ms while ${stage}`), timeoutMs).unref();

// Click something that navigates and wait until the new document has loaded.
async function clickAndWait(locator) {
  const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: remaining() });
  await locator.click({ timeout: remaining() });
  await navigated;
  await page.waitForLoadState('load', { timeout: remaining() });
}

// A visible button / submit input labelled like a consent action, or null.
async function findConsentButton() {
  const buttons = page.locator('button:visible, input[type=submit]:visible');
  for (let i = 0; i < await buttons.count(); i += 1) {
    const label = await buttons.nth(i).evaluate((el) => el.innerText || el.value || '');
    if (CONSENT.test(label)) return buttons.nth(i);
  }
  return null;
}

// Page text, or '' while a navigation replaces the document.
const bodyText = () => page.evaluate(() => document.body?.innerText ?? '').catch(() => '');

try {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: remaining(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(remaining());
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) status = r.status();
  });

  stage = 'opening LOGIN_URL';
  await page.goto(args.url, { waitUntil: 'load', timeout: remaining() });
  let submitted = false;
  let consents = 0;
  for (;;) {
    const text = (await bodyText()).toLowerCase();
    const onLoginOrigin = new URL(page.url()).origin === loginOrigin;
    if (text.includes(expectText) || (submitted && onLoginOrigin)) break;

    const password = page.locator('input[type=password]:visible').first();
    if (await password.count()) {
      if (submitted) await finish('login form shown again after submitting (credentials rejected?)');
      const form = password.locator('xpath=ancestor::form[1]');
      const user = form.locator('input[type=text]:visible, input[type=email]:visible, input:not([type]):visible').first();
      if (!(await user.count())) await finish('login form has no visible username field');
      await user.fill(args.username);
      await password.fill(args.password);
      submitted = true;
      stage = 'submitting the login form';
      const submit = form.locator('button[type=submit], input[type=submit], button:not([type])').first();
      if (await submit.count()) await clickAndWait(submit);
      else await Promise.all([page.waitForEvent('framenavigated'), password.press('Enter')]);
      continue;
    }

    const consent = submitted && consents < 3 ? await findConsentButton() : null;
    if (consent) {
      consents += 1;
      stage = 'confirming consent';
      await clickAndWait(consent);
      continue;
    }
    if (onLoginOrigin) await finish('login URL did not lead to a login form');
    stage = 'waiting for the expected page';
    // Nothing to do yet (e.g. a JavaScript redirect in progress): wait a little and look again.
    await page.waitForTimeout(Math.min(250, remaining()));
  }
  stage = 'loading the final page';
  await page.waitForLoadState('load', { timeout: remaining() });
  await finish(null);
} catch (err) {
  await finish(err.message.split('\n')[0]);
}
