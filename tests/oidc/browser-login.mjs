// browser-login.mjs — drives headless Debian Chromium (/usr/bin/chromium, via playwright-core)
// through a browser login (or a plain page visit) for login-broker tests.
//
//   node browser-login.mjs --url URL --username NAME [--mode login]
//        [--password PW] [--expect-text TEXT] [--provider LABEL] [--user-code CODE]
//        [--logout-url URL] [--logout-expect-text TEXT]
//        [--screenshot FILE.png] [--screenshots DIR] [--timeout-ms MS] [--ignore-https-errors]
//   node browser-login.mjs --url URL --mode visit [--screenshot FILE.png] [--screenshots DIR] [--timeout-ms MS]
//
// Options
//   --url URL              Page to open. Its origin is "the broker's origin" below. Required.
//   --mode login|visit     login (default): sign in as described below. visit: open URL, wait
//                          for the load event, record the page, print the report; exit 1 only
//                          when the navigation fails or times out (an HTTP error status is exit 0).
//                          Login-only options (--provider, --user-code, --logout-url...) are ignored.
//   --ignore-https-errors  Accept the test CA's server certificates (a broker behind the test's
//                          TLS front). The browser presents no client certificate either way.
//   --username NAME        Provider username (required in login mode).
//   --password PW          Provider password (default "password").
//   --expect-text TEXT     Login is done when the page text contains TEXT (case-insensitive;
//                          default "signed in"), or when the browser is back on the broker's origin
//                          after the provider's login form was submitted.
//   --provider LABEL       When a broker page shows provider links (a.provider, "Sign in with
//                          LABEL"), choose the first whose text contains LABEL (case-insensitive),
//                          using the keyboard only: Tab (at most 30 times) until that link has the
//                          focus, then Enter. Error if no link matches, if it never gets the focus,
//                          or if provider links are shown and --provider was not given.
//   --user-code CODE       On the broker's confirmation page ("Confirm this login", submit button
//                          "Continue to sign in"): the code field must be found by its label
//                          "Code shown by your application" (getByLabel); CODE is typed into it and
//                          the form is submitted with Enter in the field. Without a code field the
//                          submit button is focused with Tab and pressed with Enter. A code field
//                          without --user-code, or without that label, is an error.
//   --logout-url URL       After the login, open URL in the same browser context (same cookies),
//                          click a sign-out confirmation button ("Yes, sign me out" on the
//                          provider's end-session page; also Sign out / Log out) if one is shown
//                          (at most 3 clicks), and stop when a page on the
//                          broker's origin contains --logout-expect-text. Error if the browser
//                          stays ~2 s on a page with nothing left to do (e.g. on the provider's
//                          own "signed out" page, or a broker page without the text).
//   --logout-expect-text T Text of the broker's signed-out page (case-insensitive; default "signed out").
//   --screenshot FILE.png  Full-page screenshot of the page the top-level fields describe (the
//                          login's final page, or where the login failed; the visited page).
//   --screenshots DIR      Full-page screenshot of every page record (below), saved as
//                          DIR/NN-<slug>.png (NN = 01, 02, ...; slug = first h1 lowercased,
//                          non-alphanumerics -> '-', "page" when there is no h1). DIR is created.
//   --timeout-ms MS        Hard bound for the whole run (default 30000); on expiry the report is
//                          printed (within ~3 s more) with error "timeout after MS ms while <stage>",
//                          exit 1.
//
// Login mode: opens URL (the broker, which redirects to the provider, possibly after its own
// provider-choice and confirmation pages, see --provider / --user-code; these broker pages are
// handled only before the provider's login form is submitted, each at most once), fills the provider's
// login form (the visible password field, and the text/email field of the same form), submits,
// clicks a consent button (Continue/Allow/Accept/Authorize/Yes) if one appears on a page that
// is NOT on the broker's origin, and stops as described at --expect-text. Then --logout-url.
//
// stdout: exactly one JSON line, exit 0:
//   {"finalUrl","status","title","text",          // final page of the login (or the visited page)
//    "pages": [PAGE...], "navigations": [URL...],
//    "logout": {"finalUrl","status","title","text"}}   // only with --logout-url
// or the same with an "error" field first, exit 1 (exit 2: bad command line, nothing printed).
// Exit 0 does not mean the broker accepted the login: check status and text.
//   navigations: URL of every main-frame navigation request, in order, all origins, every
//                redirect hop included (form POSTs too).
//   pages: one PAGE per document loaded on the broker's origin (login, final and logout pages):
//     {url, status (HTTP status of that navigation), title, h1 (text of the first h1, or null),
//      lang (<html lang>), text (body innerText, trimmed, at most 2000 chars), hasMain (a <main>
//      exists), unlabelledInputs (visible input/select/textarea other than hidden/submit/button/
//      reset/image with no <label for>, no wrapping <label>, no aria-label, no aria-labelledby),
//      minContrast (lowest WCAG contrast ratio, 2 decimals, between the computed text colour of
//      every visible element directly holding non-whitespace text (and of input buttons) and its
//      effective background: ancestors' background colours composited until an opaque one, over
//      white; background images are ignored; null when there is no text),
//      focusable (tab order of visible, enabled a[href]/button/input/select/textarea without
//      tabindex=-1: innerText for a/button, value for form fields, falling back to aria-label,
//      aria-labelledby text, label text or placeholder when empty), screenshot (path or null)}
// Each run launches its own browser (own temp profile), so runs can go in parallel.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const USAGE = 'usage: node browser-login.mjs --url URL [--mode login|visit] --username NAME (login mode) '
  + '[--password PW] [--expect-text TEXT] [--provider LABEL] [--user-code CODE] [--logout-url URL] '
  + '[--logout-expect-text TEXT] [--screenshot FILE.png] [--screenshots DIR] [--timeout-ms MS]';

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      url: { type: 'string' },
      mode: { type: 'string', default: 'login' },
      username: { type: 'string' },
      password: { type: 'string', default: 'password' },
      screenshot: { type: 'string' },
      screenshots: { type: 'string' },
      'expect-text': { type: 'string', default: 'signed in' },
      provider: { type: 'string' },
      'user-code': { type: 'string' },
      'logout-url': { type: 'string' },
      'logout-expect-text': { type: 'string', default: 'signed out' },
      'timeout-ms': { type: 'string', default: '30000' },
      'ignore-https-errors': { type: 'boolean', default: false },
    },
  }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
const usageError = (why) => { console.error(`${why}\n${USAGE}`); process.exit(2); };
if (!args.url) usageError('missing --url');
if (!['login', 'visit'].includes(args.mode)) usageError('--mode must be login or visit');
if (args.mode === 'login' && !args.username) usageError('missing --username (required in login mode)');
const timeoutMs = Number(args['timeout-ms']);
if (!(timeoutMs > 0)) usageError('--timeout-ms must be a positive number');
let loginOrigin;
try {
  loginOrigin = new URL(args.url).origin;
  if (args['logout-url']) new URL(args['logout-url']); // eslint-disable-line no-new
} catch (err) {
  usageError(err.message);
}

const deadline = Date.now() + timeoutMs;
const remaining = () => Math.max(1, deadline - Date.now());
const expectText = args['expect-text'].toLowerCase();
const logoutExpectText = args['logout-expect-text'].toLowerCase();
const CONSENT = /^\s*(continue|allow|accept|authori[sz]e|grant|yes|consent|approve)\b/i;
const SIGN_OUT = /^\s*(yes\b|sign\s*(me\s*)?out\b|log\s*(me\s*)?out\b|logout\b)/i;
const CODE_LABEL = 'Code shown by your application';
const MAX_TABS = 30;
const CLEANUP_MS = 3000; // at most this long from the end (or the timeout) to the report
const SETTLE_MS = 2000; // logout: how long a page with nothing to do may stay before it is an error

let browser;
let page;
let status = null; // HTTP status of the latest main-frame navigation response
const navStatus = new Map(); // URL (without #fragment) -> HTTP status of its latest navigation
const navigations = [];
const pages = [];
let lastNavigationAt = Date.now();
let stage = 'launching the browser'; // reported on timeout
let loginResult = null; // top-level fields, frozen before the logout starts
let screenshotTaken = false;
let logoutStarted = false;

const withoutHash = (u) => String(u).split('#')[0];
const onBrokerOrigin = () => { try { return new URL(page.url()).origin === loginOrigin; } catch { return false; } };
// Resolves to p's value, or to fallback when p fails or takes longer than ms.
const within = (p, ms, fallback) => Promise.race([
  Promise.resolve(p).catch(() => fallback),
  new Promise((resolve) => { setTimeout(() => resolve(fallback), ms).unref(); }),
]);

// Page text, or '' while a navigation replaces the document.
const bodyText = () => page.evaluate(() => document.body?.innerText ?? '').catch(() => '');

async function snapshot() {
  if (!page) return { finalUrl: null, status, title: '', text: '' };
  const title = await page.title().catch(() => '');
  const text = await bodyText();
  return { finalUrl: page.url(), status, title, text: text.trim() };
}

async function takeScreenshot() {
  if (!args.screenshot || !page || screenshotTaken) return;
  screenshotTaken = true;
  await page.screenshot({ path: args.screenshot, fullPage: true, timeout: Math.min(remaining(), 10000) }).catch(() => {});
}

let finished = false;
async function finish(error) {
  if (finished) return new Promise(() => {}); // the other caller is already exiting
  finished = true;
  // Clean-up is bounded too (a hung page can make title/screenshot/close wait forever).
  const cleanupEnd = Date.now() + CLEANUP_MS;
  const left = (reserve = 0) => Math.max(100, cleanupEnd - reserve - Date.now());
  const empty = { finalUrl: page?.url() ?? null, status, title: '', text: '' };
  const current = await within(snapshot(), Math.min(1000, left()), empty);
  const result = { ...(loginResult ?? current), pages, navigations };
  if (logoutStarted) result.logout = current;
  if (!loginResult) await within(takeScreenshot(), left(500));
  await within(browser?.close(), left());
  process.stdout.write(`${JSON.stringify(error ? { error, ...result } : result)}\n`);
  process.exit(error ? 1 : 0);
}
const fail = (error) => finish(error);

// Hard bound, whatever hangs.
setTimeout(() => finish(`timeout after ${timeoutMs} ms while ${stage}`), timeoutMs).unref();
process.on('unhandledRejection', (err) => finish(`internal error: ${String(err?.message ?? err).split('\n')[0]}`));

// ---------------------------------------------------------------------------------------------
// Page records (runs in the page). Returns null when the document is not on the broker's origin
// or was already recorded (the mark lives on the document's window, so: once per document).

function collectRecord({ origin, mark }) {
  if (window.location.origin !== origin || window[mark]) return null;
  window[mark] = true;
  const clean = (s) => String(s ?? '').replace(/\s+/g, ' ').trim();
  const visible = (el) => el.checkVisibility({ visibilityProperty: true, opacityProperty: true,
    checkVisibilityCSS: true, checkOpacity: true }) && el.getClientRects().length > 0;

  // Colours: rgb()/rgba() directly, anything else (color(), oklch(), ...) through a canvas.
  let ctx;
  const parseColor = (str) => {
    const m = str.match(/^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:\s*[,/]\s*([\d.]+)(%?))?\s*\)$/);
    if (m) {
      let a = m[4] === undefined ? 1 : Number(m[4]);
      if (m[5]) a /= 100;
      return [Number(m[1]), Number(m[2]), Number(m[3]), a];
    }
    if (str === 'transparent') return [0, 0, 0, 0];
    ctx ??= Object.assign(document.createElement('canvas'), { width: 1, height: 1 })
      .getContext('2d', { willReadFrequently: true });
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = str;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = ([r, g, b, a], [R, G, B]) => [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a)];
  const bgCache = new Map();
  const background = (el) => {
    if (!el || el.nodeType !== 1) return [255, 255, 255];
    if (bgCache.has(el)) return bgCache.get(el);
    const c = parseColor(getComputedStyle(el).backgroundColor);
    const bg = c[3] >= 1 ? c.slice(0, 3) : over(c, background(el.parentElement));
    bgCache.set(el, bg);
    return bg;
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      const s = Math.min(255, Math.max(0, v)) / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };

  let minContrast = null;
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TITLE', 'OPTION', 'OPTGROUP', 'HEAD']);
  for (const el of document.querySelectorAll('*')) {
    if (skip.has(el.tagName)) continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && /\S/.test(n.nodeValue));
    const inputButton = el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type) && /\S/.test(el.value);
    if ((!ownText && !inputButton) || !visible(el)) continue;
    const bg = background(el);
    const ratio = contrast(over(parseColor(getComputedStyle(el).color), bg), bg);
    if (minContrast === null || ratio < minContrast) minContrast = ratio;
  }

  const labelled = (el) => {
    if (el.labels && el.labels.length > 0) return true;
    if (clean(el.getAttribute('aria-label'))) return true;
    const ids = clean(el.getAttribute('aria-labelledby')).split(' ').filter(Boolean);
    return ids.some((id) => clean(document.getElementById(id)?.textContent));
  };
  const NOT_FIELDS = ['hidden', 'submit', 'button', 'reset', 'image'];
  const unlabelledInputs = [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !(el.tagName === 'INPUT' && NOT_FIELDS.includes(el.type)) && visible(el) && !labelled(el))
    .length;

  const name = (el) => {
    let v;
    if (el.tagName === 'SELECT') v = el.selectedOptions[0]?.text;
    else if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') v = el.value;
    else v = el.innerText;
    const labelledBy = clean(el.getAttribute('aria-labelledby')).split(' ').filter(Boolean)
      .map((id) => clean(document.getElementById(id)?.textContent)).filter(Boolean).join(' ');
    return clean(v) || clean(el.getAttribute('aria-label')) || labelledBy
      || clean(el.labels?.[0]?.innerText) || clean(el.getAttribute('placeholder'));
  };
  const tabbable = [...document.querySelectorAll('a[href], button, input, select, textarea')]
    .filter((el) => visible(el) && !el.matches(':disabled') && el.tabIndex !== -1
      && el.getAttribute('tabindex')?.trim() !== '-1' && !el.closest('[inert]'));
  const positive = tabbable.filter((el) => el.tabIndex > 0).sort((a, b) => a.tabIndex - b.tabIndex);
  const focusable = [...positive, ...tabbable.filter((el) => !(el.tabIndex > 0))].map(name);

  const h1 = document.querySelector('h1');
  return {
    url: window.location.href,
    title: document.title,
    h1: h1 ? clean(h1.innerText || h1.textContent) : null,
    lang: document.documentElement.lang,
    text: (document.body?.innerText ?? '').trim().slice(0, 2000),
    hasMain: document.querySelector('main') !== null,
    unlabelledInputs,
    minContrast: minContrast === null ? null : Math.round(minContrast * 100) / 100,
    focusable,
  };
}

const RECORD_MARK = `__browserLoginRecorded_${Math.random().toString(36).slice(2)}`;
let recordChain = Promise.resolve();

async function recordNow() {
  if (!page || finished) return;
  const data = await page.evaluate(collectRecord, { origin: loginOrigin, mark: RECORD_MARK }).catch(() => null);
  if (!data) return;
  const record = {
    url: data.url,
    status: navStatus.get(withoutHash(data.url)) ?? status,
    title: data.title,
    h1: data.h1,
    lang: data.lang,
    text: data.text,
    hasMain: data.hasMain,
    unlabelledInputs: data.unlabelledInputs,
    minContrast: data.minContrast,
    focusable: data.focusable,
    screenshot: null,
  };
  pages.push(record);
  // Skip the screenshot if the page has already moved on to another document.
  if (args.screenshots && withoutHash(page.url()) === withoutHash(data.url)) {
    const slug = (data.h1 ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'page';
    const file = join(args.screenshots, `${String(pages.length).padStart(2, '0')}-${slug}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: Math.min(remaining(), 10000) })
      .then(() => { record.screenshot = file; }, () => {});
  }
}

// Records the current document once (serialised: the load handler and the main flow both call it).
function recordCurrent() {
  recordChain = recordChain.then(recordNow).catch(() => {});
  return recordChain;
}

// ---------------------------------------------------------------------------------------------
// Actions

// Run action (a click or key press that navigates) and wait until the new document has loaded.
async function actAndWait(action) {
  const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: remaining() });
  navigated.catch(() => {}); // awaited below; avoid an unhandled rejection if action throws first
  await action();
  await navigated;
  await page.waitForLoadState('load', { timeout: remaining() });
}
const clickAndWait = (locator) => actAndWait(() => locator.click({ timeout: remaining() }));

// A visible button / submit input whose label matches re, or null.
async function findButton(re) {
  const buttons = page.locator('button:visible, input[type=submit]:visible, input[type=button]:visible');
  for (let i = 0; i < await buttons.count(); i += 1) {
    const label = await buttons.nth(i).evaluate((el) => el.innerText || el.value || '').catch(() => '');
    if (re.test(label)) return buttons.nth(i);
  }
  return null;
}

// Describes the focused element, for error messages.
const describeFocus = () => page.evaluate(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'body';
  const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').replace(/\s+/g, ' ').trim();
  return `${el.tagName.toLowerCase()}${text ? ` "${text.slice(0, 40)}"` : ''}`;
}).catch(() => '?');

// Press Tab until locator has the focus (at most MAX_TABS times), then Enter; waits for the
// navigation. Returns an error message when the element never gets the focus.
async function tabToAndPressEnter(locator, what) {
  const trail = [];
  for (let i = 0; i < MAX_TABS; i += 1) {
    await page.keyboard.press('Tab');
    if (await locator.evaluate((el) => el === document.activeElement)) {
      await actAndWait(() => page.keyboard.press('Enter'));
      return null;
    }
    trail.push(await describeFocus());
  }
  return `${what} never received the keyboard focus after ${MAX_TABS} Tab presses (focus went: ${trail.slice(0, 8).join(' -> ')}${trail.length > 8 ? ' -> ...' : ''})`;
}

// Broker's provider-choice page: choose --provider with the keyboard.
async function chooseProvider(links) {
  const labels = [];
  for (let i = 0; i < await links.count(); i += 1) {
    labels.push((await links.nth(i).innerText().catch(() => '')).replace(/\s+/g, ' ').trim());
  }
  if (!args.provider) return `provider-choice page shown but no --provider given (providers: ${labels.map((l) => JSON.stringify(l)).join(', ')})`;
  const want = args.provider.toLowerCase();
  const index = labels.findIndex((l) => l.toLowerCase().includes(want));
  if (index < 0) return `no provider link matches "${args.provider}" (providers: ${labels.map((l) => JSON.stringify(l)).join(', ')})`;
  stage = `choosing provider "${labels[index]}" with the keyboard`;
  return tabToAndPressEnter(links.nth(index), `provider link "${labels[index]}"`);
}

// Broker's confirmation page: type --user-code into the labelled field and press Enter, or
// (no code field) Tab to the submit button and press Enter.
async function confirmLogin(continueButton) {
  const fields = page.locator('form input:visible:not([type=hidden]):not([type=submit]):not([type=button])'
    + ':not([type=reset]):not([type=image]):not([type=checkbox]):not([type=radio]), form textarea:visible');
  if (await fields.count()) {
    if (args['user-code'] === undefined) return 'confirmation page asks for a code but no --user-code was given';
    const field = page.getByLabel(CODE_LABEL);
    if (!(await field.count())) return `confirmation page has a code field, but none labelled "${CODE_LABEL}"`;
    stage = 'typing the user code on the confirmation page';
    await field.first().fill(args['user-code'], { timeout: remaining() });
    await actAndWait(() => field.first().press('Enter', { timeout: remaining() }));
    return null;
  }
  const submit = (await continueButton.count())
    ? continueButton.first()
    : page.locator('form button[type=submit]:visible, form button:not([type]):visible, form input[type=submit]:visible').first();
  if (!(await submit.count())) return 'confirmation page has no submit button';
  stage = 'confirming the login with the keyboard';
  return tabToAndPressEnter(submit, 'the confirmation button');
}

// ---------------------------------------------------------------------------------------------
// Flows

async function login() {
  stage = 'opening LOGIN_URL';
  await page.goto(args.url, { waitUntil: 'load', timeout: remaining() });
  let submitted = false;
  let consents = 0;
  let choices = 0;
  let confirmations = 0;
  for (;;) {
    await page.waitForLoadState('load', { timeout: remaining() }).catch(() => {});
    await recordCurrent();
    const onLoginOrigin = onBrokerOrigin();

    // Broker pages before the provider's login: provider choice, login confirmation.
    if (onLoginOrigin && !submitted) {
      const links = page.locator('a.provider');
      if (await links.count()) {
        choices += 1;
        if (choices > 1) return fail('provider-choice page shown again after choosing a provider');
        const error = await chooseProvider(links);
        if (error) return fail(error);
        continue;
      }
      const continueButton = page.getByRole('button', { name: /continue to sign in/i });
      const h1 = await page.evaluate(() => document.querySelector('h1')?.innerText ?? '').catch(() => '');
      if (/confirm this login/i.test(h1) || await continueButton.count()) {
        confirmations += 1;
        if (confirmations > 1) return fail('confirmation page shown again after submitting it (code rejected?)');
        const error = await confirmLogin(continueButton);
        if (error) return fail(error);
        continue;
      }
    }

    const text = (await bodyText()).toLowerCase();
    if (text.includes(expectText) || (submitted && onLoginOrigin)) break;

    const password = page.locator('input[type=password]:visible').first();
    if (await password.count()) {
      if (submitted) return fail('login form shown again after submitting (credentials rejected?)');
      const form = password.locator('xpath=ancestor::form[1]');
      const user = form.locator('input[type=text]:visible, input[type=email]:visible, input:not([type]):visible').first();
      if (!(await user.count())) return fail('login form has no visible username field');
      await user.fill(args.username);
      await password.fill(args.password);
      submitted = true;
      stage = 'submitting the login form';
      const submit = form.locator('button[type=submit], input[type=submit], button:not([type])').first();
      if (await submit.count()) await clickAndWait(submit);
      else await actAndWait(() => password.press('Enter'));
      continue;
    }

    // Consent is the provider's: never click the broker's own buttons here.
    const consent = submitted && !onLoginOrigin && consents < 3 ? await findButton(CONSENT) : null;
    if (consent) {
      consents += 1;
      stage = 'confirming consent';
      await clickAndWait(consent);
      continue;
    }
    if (onLoginOrigin) return fail('login URL did not lead to a login form');
    stage = 'waiting for the expected page';
    // Nothing to do yet (e.g. a JavaScript redirect in progress): wait a little and look again.
    await page.waitForTimeout(Math.min(250, remaining()));
  }
  stage = 'loading the final page';
  await page.waitForLoadState('load', { timeout: remaining() });
  await recordCurrent();
  if (args['logout-url']) await logout();
  return finish(null);
}

async function logout() {
  loginResult = await snapshot();
  await takeScreenshot();
  logoutStarted = true;
  stage = 'opening LOGOUT_URL';
  await page.goto(args['logout-url'], { waitUntil: 'load', timeout: remaining() });
  let clicks = 0;
  for (;;) {
    await page.waitForLoadState('load', { timeout: remaining() }).catch(() => {});
    await recordCurrent();
    const onLoginOrigin = onBrokerOrigin();
    const text = (await bodyText()).toLowerCase();
    if (onLoginOrigin && text.includes(logoutExpectText)) break;
    const button = clicks < 3 ? await findButton(SIGN_OUT) : null;
    if (button) {
      clicks += 1;
      stage = onLoginOrigin ? 'confirming the sign-out at the broker' : 'confirming the sign-out at the provider';
      await clickAndWait(button);
      continue;
    }
    stage = 'waiting for the broker\'s signed-out page';
    if (Date.now() - lastNavigationAt > SETTLE_MS) {
      return fail(onLoginOrigin
        ? `logout ended on a broker page without "${args['logout-expect-text']}"`
        : `logout stopped at ${page.url()}, not on the broker's origin`);
    }
    await page.waitForTimeout(Math.min(250, remaining()));
  }
  stage = 'loading the signed-out page';
  await page.waitForLoadState('load', { timeout: remaining() });
  await recordCurrent();
}

async function visit() {
  stage = 'opening URL';
  await page.goto(args.url, { waitUntil: 'load', timeout: remaining() });
  stage = 'recording the page';
  await recordCurrent();
  return finish(null);
}

try {
  if (args.screenshots) mkdirSync(args.screenshots, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: remaining(),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext({ ignoreHTTPSErrors: args['ignore-https-errors'] })).newPage();
  page.setDefaultTimeout(remaining());
  const mainFrame = (r) => { try { return r.frame() === page.mainFrame(); } catch { return false; } };
  page.on('request', (r) => {
    if (r.isNavigationRequest() && mainFrame(r)) navigations.push(r.url());
  });
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && mainFrame(r.request())) {
      status = r.status();
      navStatus.set(withoutHash(r.url()), r.status());
    }
  });
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) lastNavigationAt = Date.now(); });
  // Catches broker documents the flow only passes through (e.g. a JavaScript redirect page).
  page.on('load', () => { recordCurrent(); });

  if (args.mode === 'visit') await visit();
  else await login();
} catch (err) {
  await finish(String(err?.message ?? err).split('\n')[0]);
}
