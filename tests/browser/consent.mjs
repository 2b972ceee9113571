#!/usr/bin/env node
// Real-browser check of Luna's OAuth consent page and Hub, in Debian's Chromium driven by
// playwright-core (no browser download: the system Chromium is launched by path).
//
//   node tests/browser/consent.mjs --luna http://127.0.0.1:PORT \
//       --authorize '/api/authorize?response_type=code&client_id=...' \
//       --callback-prefix http://127.0.0.1:CB/callback \
//       [--chromium /usr/bin/chromium] [--callback-out PATH] [--hub-after-exchange-file PATH]
//
// 1. In one browser context (one cookie jar) it opens <luna><authorize>; Luna sends it through
//    GitHub login (a stand-in GitHub that answers at once) and back to its consent page.
// 2. It records the consent page's status and security headers.
// 3. It clicks "Allow" and waits for the browser's navigation to --callback-prefix (intercepted
//    by the test, so nothing has to listen there), and parses code, state and iss from it.
//    As soon as that happens, one line {"event":"callback",...} is printed on stdout (and
//    written to --callback-out PATH, if given) so that a runner can exchange the code.
// 4. Framing: pages on other origins (one cross-site, 127.0.0.2; one same-site, another port
//    of the same host, so that Luna's SameSite=Lax session cookie is sent and the consent page
//    itself reaches the frame) embed the authorize URL in an <iframe>; the consent page must
//    not render there.
// 5. With --hub-after-exchange-file PATH: waits (up to 20 s) until PATH exists, opens the Hub
//    at <luna>/mcp in the same context, reports the rows of table #clients, clicks the first
//    "Disconnect" and reports the rows after the table re-rendered.
// 6. The last stdout line is one JSON object with the results. Exit 0 if the callback was
//    reached, 1 if not, 2 on bad arguments.
//
// Every wait is bounded (20 s at most) and the browser is always closed.

import { chromium } from 'playwright-core';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const WAIT_MS = 20_000;
const CONSENT_TITLE = 'Allow access to Luna?';
const started = Date.now();

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node tests/browser/consent.mjs --luna URL --authorize PATH --callback-prefix URL ` +
      `[--chromium PATH] [--callback-out PATH] [--hub-after-exchange-file PATH]\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const known = ['luna', 'authorize', 'callback-prefix', 'chromium', 'callback-out', 'hub-after-exchange-file'];
  const options = { chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!match || !known.includes(match[1])) usage(`unknown argument: ${argv[i]}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) usage(`--${match[1]} needs a value`);
    options[match[1]] = value;
  }
  for (const required of ['luna', 'authorize', 'callback-prefix']) {
    if (!options[required]) usage(`--${required} is required`);
  }
  options.luna = options.luna.replace(/\/+$/, '');
  if (!options.authorize.startsWith('/')) usage('--authorize must be a path starting with /');
  return options;
}

const log = (...parts) => process.stderr.write(`[consent ${((Date.now() - started) / 1000).toFixed(2)}s] ${parts.join(' ')}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with `undefined` after `ms`; the timer does not keep Node alive. */
function timeout(ms, value) {
  return new Promise((resolve) => setTimeout(resolve, ms, value).unref());
}

async function pageText(page) {
  try {
    return (await page.locator('body').innerText({ timeout: 2_000 })).trim().slice(0, 2_000);
  } catch {
    try {
      return (await page.content()).slice(0, 2_000);
    } catch {
      return null;
    }
  }
}

const pick = (headers, names) => Object.fromEntries(names.filter((n) => headers[n] !== undefined).map((n) => [n, headers[n]]));
const SECURITY_HEADERS = ['content-security-policy', 'x-frame-options', 'referrer-policy', 'cache-control', 'content-type'];

async function hubRows(page) {
  return page.$$eval('#clients tr', (rows) =>
    rows.map((row) => [...row.cells].map((cell) => cell.innerText.trim()).filter((text) => text !== '').join(' | ')),
  );
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const luna = options.luna;
  const lunaOrigin = new URL(luna).origin;
  const callbackPrefix = options['callback-prefix'];
  const authorizeUrl = luna + options.authorize;
  const result = {
    consent_status: null,
    consent_title: null,
    consent_headers: {},
    login_redirects: [],
    decision_status: null,
    decision_location: null,
    callback_url: null,
    code: null,
    state: null,
    iss: null,
    error: null,
    framed_blocked: null,
    framing: [],
    hub_rows_before: null,
    hub_rows_after: null,
    hub_revoke_status: null,
    console: [],
    elapsed_s: null,
  };

  let browser;
  try {
    browser = await chromium.launch({
      executablePath: options.chromium,
      headless: true,
      chromiumSandbox: false,
      timeout: WAIT_MS,
      // Playwright gives every launch a new, empty --user-data-dir and removes it on close.
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
    const context = await browser.newContext();
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    // The client's redirect URI: answered here, so nothing has to listen on it.
    await context.route(
      (url) => url.href.startsWith(callbackPrefix),
      (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'ok' }),
    );
    const page = await context.newPage();
    page.on('console', (message) => result.console.push(`${message.type()}: ${message.text()}`.slice(0, 500)));
    page.on('pageerror', (error) => result.console.push(`pageerror: ${error.message}`.slice(0, 500)));

    // 1-2: through GitHub login to the consent page.
    log('opening', authorizeUrl);
    const consent = await page.goto(authorizeUrl, { waitUntil: 'load' });
    for (let hop = consent?.request().redirectedFrom(); hop; hop = hop.redirectedFrom()) {
      const response = await hop.response();
      result.login_redirects.unshift(`${response?.status()} ${hop.method()} ${hop.url()}`);
    }
    result.consent_status = consent?.status() ?? null;
    result.consent_headers = consent ? pick(await consent.allHeaders(), SECURITY_HEADERS) : {};
    result.consent_title = await page.title();
    const allow = page.locator('form button[name="decision"][value="approve"]');
    if (!result.consent_title.startsWith(CONSENT_TITLE) || (await allow.count()) !== 1) {
      result.error = {
        step: 'consent',
        url: page.url(),
        status: result.consent_status,
        text: await pageText(page),
      };
      log('no consent page:', page.url());
    } else {
      // 3: Allow, then wait for the navigation to the client (or whatever happens instead).
      log('consent page', result.consent_status, '- clicking Allow');
      const isDecision = (request) =>
        request.method() === 'POST' && request.url().startsWith(`${luna}/api/authorize`);
      const outcome = new Promise((resolve) => {
        page.on('request', (request) => {
          if (request.isNavigationRequest() && request.url().startsWith(callbackPrefix)) resolve({ kind: 'callback', request });
        });
        page.on('response', (response) => {
          const request = response.request();
          if (request.frame() === page.mainFrame() && request.isNavigationRequest() && !request.url().startsWith(callbackPrefix)) {
            const status = response.status();
            if (status < 300 || status >= 400) resolve({ kind: 'page', response });
          }
        });
        page.on('requestfailed', (request) => {
          if (request.isNavigationRequest()) resolve({ kind: 'failed', request });
        });
      });
      const decision = page.waitForRequest(isDecision, { timeout: WAIT_MS }).catch(() => null);
      await allow.click();
      const what = await Promise.race([outcome, timeout(WAIT_MS, { kind: 'timeout' })]);
      const post = await Promise.race([decision, timeout(2_000, null)]);
      const postResponse = post ? await Promise.race([post.response(), timeout(2_000, null)]).catch(() => null) : null;
      if (postResponse) {
        result.decision_status = postResponse.status();
        result.decision_location = (await postResponse.allHeaders()).location ?? null;
      }
      if (what.kind === 'callback') {
        result.callback_url = what.request.url();
        const query = new URL(result.callback_url).searchParams;
        result.code = query.get('code');
        result.state = query.get('state');
        result.iss = query.get('iss');
        if (query.get('error')) result.error = { step: 'decision', oauth_error: query.get('error'), description: query.get('error_description') };
        const event = { event: 'callback', callback_url: result.callback_url, code: result.code, state: result.state, iss: result.iss };
        process.stdout.write(JSON.stringify(event) + '\n');
        if (options['callback-out']) writeFileSync(options['callback-out'], JSON.stringify(event) + '\n');
        log('callback reached:', result.callback_url);
        // Let the intercepted callback page finish so that the page is idle.
        await page.waitForURL((url) => url.href.startsWith(callbackPrefix), { timeout: 5_000 }).catch(() => {});
      } else {
        await page.waitForLoadState('load', { timeout: 5_000 }).catch(() => {});
        result.error = {
          step: 'decision',
          outcome: what.kind,
          url: page.url(),
          status: what.kind === 'page' ? what.response.status() : result.decision_status,
          failure: what.kind === 'failed' ? what.request.failure()?.errorText ?? null : null,
          failed_url: what.kind === 'failed' ? what.request.url() : null,
          text: await pageText(page),
        };
        log('callback not reached:', JSON.stringify(result.error));
      }
    }

    // 4: framing, from pages on other origins, in the same (logged-in) context.
    // The framing pages come from real loopback servers: a page the test fulfilled itself has
    // no address, so Chromium takes it for a public page and its Local Network Access check
    // would block the frame before Luna is ever asked.
    const parents = [
      { name: 'cross-site', host: '127.0.0.2' },
      { name: 'same-site', host: new URL(luna).hostname },
    ];
    for (const parent of parents) {
      result.framing.push(await framingCheck(context, parent, authorizeUrl, lunaOrigin));
    }
    result.framed_blocked = result.framing.every((check) => check.blocked === true);

    // 5: the Hub, once the runner has exchanged the code.
    if (options['hub-after-exchange-file']) {
      const file = options['hub-after-exchange-file'];
      const deadline = Date.now() + WAIT_MS;
      while (!existsSync(file) && Date.now() < deadline) await sleep(100);
      if (!existsSync(file)) {
        result.hub_error = `${file} did not appear within ${WAIT_MS / 1000} s`;
      } else {
        await hubCheck(page, luna, result);
      }
    }
  } catch (error) {
    result.error = result.error ?? { step: 'script', message: String(error?.stack ?? error).slice(0, 2_000) };
  } finally {
    if (browser) await Promise.race([browser.close().catch(() => {}), timeout(10_000)]);
  }
  result.elapsed_s = Number(((Date.now() - started) / 1000).toFixed(2));
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = result.callback_url ? 0 : 1;
}

/** Embeds the authorize URL in an iframe of a page served from `parent.host` (a real loopback server) and tells whether it rendered. */
async function framingCheck(context, parent, authorizeUrl, lunaOrigin) {
  const check = { parent: null, kind: parent.name, blocked: null, evidence: [] };
  const html =
    `<!doctype html><html><head><title>framer</title></head><body>` +
    `<iframe id="victim" name="victim" src="${authorizeUrl.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}" width="600" height="400"></iframe>` +
    `</body></html>`;
  const server = createServer((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    response.end(html);
  });
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, parent.host, resolve);
    });
  } catch (error) {
    check.error = `cannot listen on ${parent.host}: ${error.message}`;
    return check;
  }
  check.parent = `http://${parent.host}:${server.address().port}/frame`;
  const page = await context.newPage();
  const consoleMessages = [];
  page.on('console', (message) => consoleMessages.push(message.text()));
  const frameResponses = [];
  page.on('response', async (response) => {
    const request = response.request();
    if (request.frame() !== page.mainFrame() && request.url().startsWith(lunaOrigin)) {
      frameResponses.push({ status: response.status(), method: request.method(), url: request.url(), response });
    }
  });
  try {
    await page.goto(check.parent, { waitUntil: 'load' });
    // The iframe's own load (including Luna's login redirects) is part of the parent's load;
    // give late console messages a moment.
    await sleep(300);
    const last = frameResponses.at(-1);
    if (last) {
      const headers = await last.response.allHeaders().catch(() => ({}));
      check.frame_response = {
        status: last.status,
        url: last.url,
        headers: pick(headers, ['content-security-policy', 'x-frame-options']),
      };
    }
    check.frame_redirects = frameResponses.map((r) => `${r.status} ${r.method} ${r.url}`);
    const child = page.frames().find((frame) => frame !== page.mainFrame());
    check.frame_url = child ? child.url() : null;
    let title = null;
    let hasAllow = false;
    let text = null;
    if (child) {
      try {
        title = await child.title();
        hasAllow = (await child.locator('button[name="decision"][value="approve"]').count()) > 0;
        text = (await child.locator('body').innerText({ timeout: 2_000 }).catch(() => '')).trim().slice(0, 300);
      } catch (error) {
        check.evidence.push(`frame not scriptable: ${String(error.message).split('\n')[0]}`);
      }
    }
    check.frame_title = title;
    check.frame_text = text;
    const refused = consoleMessages.filter((m) => /Refused to (frame|display)|frame-ancestors|X-Frame-Options/i.test(m));
    check.console = refused.map((m) => m.slice(0, 400));
    const consentRendered = hasAllow || (title ?? '').startsWith(CONSENT_TITLE);
    check.blocked = !consentRendered;
    if (consentRendered) check.evidence.push('the consent page (Allow button) rendered inside the frame');
    if (check.frame_url?.startsWith('chrome-error://')) check.evidence.push(`frame shows Chromium's error page (${check.frame_url})`);
    if (refused.length) check.evidence.push('console: Chromium refused to display the frame');
    if (check.frame_response?.status === 200 && !consentRendered) {
      check.evidence.push('Luna answered the frame with 200 but the browser did not render it');
    }
    if (check.frame_response && check.frame_response.status !== 200) {
      check.evidence.push(`Luna answered the frame with ${check.frame_response.status}`);
    }
    if (!child) check.evidence.push('no child frame exists');
  } catch (error) {
    check.error = String(error.message).split('\n')[0];
  } finally {
    await page.close().catch(() => {});
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  return check;
}

async function hubCheck(page, luna, result) {
  const rendered = () =>
    page.waitForFunction(
      () => {
        const body = document.getElementById('clients');
        return body && !/Loading/.test(body.textContent);
      },
      null,
      { timeout: WAIT_MS },
    );
  const hub = await page.goto(`${luna}/mcp`, { waitUntil: 'load' });
  result.hub_status = hub?.status() ?? null;
  await rendered();
  result.hub_who = (await page.locator('#who').innerText().catch(() => '')).trim();
  result.hub_rows_before = await hubRows(page);
  const disconnect = page.locator('#clients button', { hasText: 'Disconnect' }).first();
  if ((await disconnect.count()) === 0) {
    result.hub_error = 'no Disconnect button in #clients';
    result.hub_rows_after = result.hub_rows_before;
    return;
  }
  // Mark the current rows: the page replaces them when it re-renders the table.
  await page.$$eval('#clients tr', (rows) => rows.forEach((row) => row.setAttribute('data-before', '1')));
  const revoke = page.waitForResponse(
    (response) => response.request().method() === 'POST' && /\/api\/supervisor\/oauth\/clients\/.+\/revoke$/.test(response.url()),
    { timeout: WAIT_MS },
  );
  await disconnect.click();
  const revoked = await revoke.catch(() => null);
  result.hub_revoke_status = revoked ? revoked.status() : null;
  if (revoked && revoked.status() >= 400) {
    result.hub_revoke_body = (await revoked.text().catch(() => '')).slice(0, 500);
  }
  await page
    .waitForFunction(() => !document.querySelector('#clients tr[data-before]'), null, { timeout: WAIT_MS })
    .catch(() => {
      result.hub_error = 'the clients table did not re-render within 20 s';
    });
  result.hub_rows_after = await hubRows(page);
}

await main();
