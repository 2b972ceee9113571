#!/usr/bin/env node
// The Hub as a person uses it, in Debian's Chromium driven by playwright-core: the journeys
// of tests/integration/hub.rs. Each step records what the page showed; the last stdout line
// is one JSON object with the results (the Rust test asserts on it and on Luna's own state).
//
//   node tests/browser/hub.mjs --luna http://127.0.0.1:PORT --journey extensions|infrastructure|packages|member|apps|chat|store|offers
//       [--service NAME --container NAME --port PORT] [--shots DIR] [--chromium /usr/bin/chromium]
//       [--store-extension ID --store-service ID --store-search WORD]
//
// extensions: log in through the stand-in GitHub, landing on the page asked for; switch a
//   tool off in MCP; see a process stopped from outside the page change state live; start
//   it from the page; follow its log and see a new line arrive; a second browser's session
//   revoked from the Sessions page, and that revocation on the Activity page; the
//   dashboard's Checks (`luna doctor`) with Luna's own check passing, run once when shown and
//   once more by "Check again"; screenshots of every page at 1280x800 and 390x844.
// infrastructure: install service NAME from its form (a bad port first, refused inline),
//   watch the progress, open its UI, reveal a secret; its container stopped by hand (docker
//   stop) shows at once with the banner, whose Start brings it back; stop it from the page,
//   uninstall it with its data.
// packages: on the Keys page add a key an extension requires (masked once set) and restart
//   the process that needs it; on the Extensions page draft four changes (disable hello,
//   install weather from a GitHub source, update almanac, remove old) and upload the zip
//   --zip (a fifth: its install), save them to the
//   queue, change and revert, then apply and watch the progress to its end.
// member: log in as a member: the Hub says so, has no Keys page, offers no install, shows
//   every control that changes Luna disabled (extension and tool switches, token
//   regeneration, no Reveal), and still opens the hello extension's UI.
// apps: log in on the Hub, open the `hostile` app's origin (logged in there without another
//   GitHub round trip); its page, served at the root, attacks the Hub (reads with the user's
//   cookies, a shutdown, a planted cookie, a frame); the Hub still works; after logging out
//   of the Hub the app's origin is closed too.
// chat: on the Chat page pick the agent simple_agent, send "Say hello to Ada" and wait for
//   the streamed answer to finish (its turn's data-state leaves "streaming", Send is enabled
//   again): the answer's text, its tool cards (name, status, result), the token usage, and
//   whether the curl snippet holds the $AGENT_API_KEY placeholder and no key.
// offers: on the `everything` extension's Tools tab, the prompts, resources and resource
//   templates its MCP server offers (offer_groups: their headings), each on; the prompt
//   test_simple_prompt switched off (offer_enabled_before/after); on the MCP page the summary
//   of what is offered (offered_summary). Screenshot extension-offers.
// store: on the Store page (as the admin) the grid's cards (all_cards, in order); the search
//   --store-search WORD typed in the box (search_cards), cleared; the filters Services and
//   "No keys needed" (filtered_cards), kept by a reload, cleared; the detail view of
//   --store-extension ID opened by a click on its card (detail_title, detail_sections: its
//   section headings, detail_dependencies: the names of what it works with), installed from
//   there to its end (extension_installed, extension_steps: the progress lines), closed, its
//   card then installed (extension_card_installed, extension_manage_href); then Install on the
//   card of --store-service ID: its form, submitted with its defaults (a required port field
//   without one gets a free port of this host: service_filled), ends on the connection
//   values (service_values: their names, service_values_masked: a secret among them shows
//   masked), closed, its card installed (service_card_installed); whether the page is wider
//   than a phone (overflowing). Screenshots store, store-detail, store-service-values,
//   store-390x844.
//
// Every wait is bounded (20 s; a store install 120 s, a service's install 180 s) and the browser is always closed. Exit 0 when the journey ran
// to its end, 1 when a step failed (the JSON says which), 2 on bad arguments.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const WAIT_MS = 20_000;
const PAGES = ['/', '/extensions', '/extensions/hello', '/keys', '/infrastructure', '/mcp', '/sessions', '/activity', '/settings'];
/** An agent's answer: a model's turns and its tool calls, streamed. */
const ANSWER_WAIT_MS = 60_000;
/** An apply installs and restarts extensions: it may take longer than one page step. */
/** An extension installed from the store: downloaded, its dependencies installed, started. */
const STORE_INSTALL_WAIT_MS = 120_000;
/** A service installed from its form: its image pulled, its container healthy. */
const SERVICE_INSTALL_WAIT_MS = 180_000;
const APPLY_WAIT_MS = 90_000;
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

function parseArgs(argv) {
  const known = [
    'luna', 'journey', 'service', 'container', 'port', 'shots', 'chromium', 'zip',
    'store-extension', 'store-service', 'store-search',
  ];
  const options = { chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)$/.exec(argv[i]);
    if (!match || !known.includes(match[1]) || argv[i + 1] === undefined) {
      process.stderr.write(`bad argument: ${argv[i]}\n`);
      process.exit(2);
    }
    options[match[1]] = argv[++i];
  }
  const journeys = ['extensions', 'infrastructure', 'packages', 'member', 'apps', 'chat', 'store', 'offers'];
  if (!options.luna || !journeys.includes(options.journey)) {
    process.stderr.write(`--luna URL and --journey ${journeys.join('|')} are required\n`);
    process.exit(2);
  }
  if (options.journey === 'store' && !['store-extension', 'store-service', 'store-search'].every((name) => options[name])) {
    process.stderr.write('the store journey needs --store-extension ID --store-service ID --store-search WORD\n');
    process.exit(2);
  }
  options.luna = options.luna.replace(/\/+$/, '');
  return options;
}

/** Logs in by opening `path`: Luna sends the browser to the stand-in GitHub and back. */
async function openLoggedIn(page, luna, path) {
  await page.goto(`${luna}${path}`, { waitUntil: 'load' });
  await page.waitForURL((url) => url.origin === new URL(luna).origin && !url.pathname.startsWith('/auth/'), {
    timeout: WAIT_MS,
  });
  await page.locator('#feed[data-state="live"]').waitFor({ timeout: WAIT_MS });
  return new URL(page.url());
}

async function extensionsJourney(browser, options, result) {
  const { luna } = options;
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  const landed = await openLoggedIn(page, luna, '/extensions/hello?tab=tools');
  result.landed = landed.pathname + landed.search;

  // A tool switched off in MCP.
  const tool = page.locator('li[data-tool]').first();
  await tool.waitFor({ timeout: WAIT_MS });
  result.tool = await tool.getAttribute('data-tool');
  const mcpSwitch = tool.getByRole('switch', { name: /^Enabled in MCP/ });
  result.tool_enabled_before = await mcpSwitch.getAttribute('aria-checked');
  await mcpSwitch.click();
  await page.waitForFunction(
    (name) => document.querySelector(`li[data-tool="${name}"] [role=switch]`)?.getAttribute('aria-checked') === 'false',
    result.tool,
    { timeout: WAIT_MS },
  );
  result.tool_enabled_after = await mcpSwitch.getAttribute('aria-checked');

  // Services: a change made elsewhere shows without a reload.
  await page.getByRole('tab', { name: /^Services/ }).click();
  const key = 'hello.worker';
  const row = page.locator(`li[data-process="${key}"]`);
  await row.locator('[data-status="running"]').waitFor({ timeout: WAIT_MS });
  await row.getByRole('button', { name: 'Follow logs' }).click();
  const logBox = page.getByLabel(`Logs of ${key}`, { exact: true });
  await page.waitForFunction(() => /heartbeat|started/.test(document.querySelector('.log-lines')?.textContent ?? ''), null, {
    timeout: WAIT_MS,
  });
  const navigations = [];
  page.on('framenavigated', (frame) => frame === page.mainFrame() && navigations.push(frame.url()));
  const stopped = await context.request.post(`${luna}/api/supervisor/services/${key}/stop`, {
    headers: { Accept: 'application/json' },
  });
  result.outside_stop_status = stopped.status();
  await row.locator('[data-status="stopped"]').waitFor({ timeout: WAIT_MS });
  result.live_stopped = true;
  const linesBefore = (await logBox.textContent()).split('\n').filter((line) => line.includes('hello worker started')).length;
  await row.getByRole('button', { name: 'Start', exact: true }).click();
  await row.locator('[data-status="running"]').waitFor({ timeout: WAIT_MS });
  result.started_from_page = true;
  await page.waitForFunction(
    (before) =>
      (document.querySelector('.log-lines')?.textContent ?? '').split('\n').filter((line) => line.includes('hello worker started'))
        .length > before,
    linesBefore,
    { timeout: WAIT_MS },
  );
  result.new_log_line = true;
  result.reloaded = navigations.length > 0;

  // Sessions: another browser's session, revoked from this one.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await openLoggedIn(otherPage, luna, '/');
  // Only its cookie is needed from here on (its page would log the 401s of its end).
  await otherPage.close();
  await page.getByRole('link', { name: 'Sessions' }).click();
  const rows = page.locator('#sessions tbody tr');
  await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 2, null, {
    timeout: WAIT_MS,
  });
  result.sessions_before = await rows.count();
  result.current_marked = await page.locator('#sessions tr[data-current]').getByText('this device').count();
  await page.locator('#sessions tbody tr:not([data-current])').getByRole('button', { name: 'Revoke' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 1, null, {
    timeout: WAIT_MS,
  });
  result.sessions_after = await rows.count();
  const otherMe = await other.request.get(`${luna}/auth/me`, { headers: { Accept: 'application/json' } });
  result.revoked_session_me_status = otherMe.status();
  await other.close();

  // Activity: the revocation just made, in the audit log.
  await page.getByRole('link', { name: 'Activity' }).click();
  await page.locator('#activity tr[data-action="revoke_session"]').first().waitFor({ timeout: WAIT_MS });
  result.activity_revocations = await page.locator('#activity tr[data-action="revoke_session"]').count();

  await dashboardChecks(page, result);

  await screenshots(page, options, result);
  await context.close();
}

/**
 * The dashboard's Checks: `luna doctor` run when the page shows them (not before it paints,
 * not again on a feed event) and once more by "Check again". Luna's own check must pass: it
 * is running. A failed expectation ends the journey.
 */
async function dashboardChecks(page, result) {
  const isDoctor = (url) => new URL(url).pathname === '/api/supervisor/doctor';
  const runs = [];
  const count = (request) => isDoctor(request.url()) && runs.push(request.method());
  page.on('request', count);
  await page.getByRole('navigation', { name: 'Hub' }).getByRole('link', { name: 'Dashboard' }).click();
  const checks = page.getByRole('region', { name: 'Checks', exact: true });
  await checks.getByRole('heading', { name: 'Checks', exact: true }).waitFor({ timeout: WAIT_MS });
  const luna = checks.locator('li[data-check="luna"]');
  await luna.waitFor({ timeout: WAIT_MS });
  const listed = () =>
    checks.locator('li[data-check]').evaluateAll((items) => items.map((item) => `${item.dataset.verdict} ${item.dataset.check}`));
  result.checks = await listed();
  result.checks_headline = (await checks.locator('#checks-headline').textContent({ timeout: WAIT_MS })).trim();
  result.luna_check = await luna.getAttribute('data-verdict');
  // What a screen reader reads: the verdict in words, the title, the summary.
  result.luna_check_text = (await luna.textContent()).trim();
  if (result.luna_check !== 'ok' || !result.luna_check_text.startsWith('✓Passes: Luna')) {
    throw new Error(`the dashboard's Luna check does not pass: ${result.luna_check_text} (${result.checks.join(', ')})`);
  }

  const again = checks.getByRole('button', { name: 'Check again' });
  const rerun = page.waitForResponse((response) => isDoctor(response.url()), { timeout: WAIT_MS });
  await again.click();
  result.check_again_status = (await rerun).status();
  // Done: the button is back (enabled) and the list shows the new answer.
  await page.waitForFunction(
    () => {
      const button = document.querySelector('#checks button');
      return button && !button.disabled && button.textContent === 'Check again';
    },
    null,
    { timeout: WAIT_MS },
  );
  await checks.locator('li[data-check="luna"][data-verdict="ok"]').waitFor({ timeout: WAIT_MS });
  result.checks_after_again = await listed();
  page.off('request', count);
  result.doctor_runs = runs.length;
  if (result.check_again_status !== 200 || runs.length !== 2 || runs.some((method) => method !== 'GET')) {
    throw new Error(`the checks ran ${runs.length} times (HTTP ${result.check_again_status}), not twice: when shown, then by "Check again"`);
  }
}

async function infrastructureJourney(browser, options, result) {
  const { luna, service, port } = options;
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  const installs = [];
  page.on('request', (request) => request.method() === 'POST' && request.url().endsWith('/install') && installs.push(request.url()));
  await openLoggedIn(page, luna, '/infrastructure');
  const entry = page.locator(`li[data-available="${service}"]`);
  await entry.getByRole('button', { name: /^Install / }).click();
  const form = page.getByRole('region', { name: `Install ${service}` });
  const portField = form.getByLabel(/^Port/);
  await portField.fill('80');
  await form.getByRole('button', { name: 'Install' }).click();
  const problem = form.locator('#field-port-problem');
  await problem.waitFor({ timeout: WAIT_MS });
  result.invalid_port_message = (await problem.textContent()).trim();
  result.invalid_port_marked = await portField.getAttribute('aria-invalid');
  result.installs_after_invalid = installs.length;

  await portField.fill(String(port));
  await form.getByRole('button', { name: 'Install' }).click();
  await form.locator('.progress li').first().waitFor({ timeout: WAIT_MS });
  result.progress_steps_seen = await form.locator('.progress li').count();
  await form.getByText(/is installed\./).waitFor({ timeout: 60_000 });
  result.progress_steps = await form.locator('.progress li').allTextContents();
  const uiLink = form.getByRole('link', { name: /Open its UI/ });
  result.ui_href = await uiLink.getAttribute('href');
  // Opened as a person would: the link leads to the service's own origin, logged in there.
  const uiPage = await context.newPage();
  const ui = await uiPage.goto(new URL(result.ui_href, luna).href);
  result.ui_status = ui.status();
  result.ui_origin = new URL(uiPage.url()).origin;
  result.ui_body = (await ui.text()).trim().slice(0, 200);
  await uiPage.close();
  await form.getByRole('button', { name: 'Done' }).click();

  const card = page.locator(`li[data-service="${service}"]`);
  await card.locator('[data-status="running"]').waitFor({ timeout: WAIT_MS });
  const masked = await card.getByLabel('WEBCHECK_TOKEN', { exact: true }).textContent();
  await card.getByRole('button', { name: 'Reveal' }).click();
  await page.waitForFunction(
    (name) => !/\*{4}/.test(document.querySelector(`li[data-service="${name}"] [aria-label="WEBCHECK_TOKEN"]`)?.textContent ?? '*'),
    service,
    { timeout: WAIT_MS },
  );
  result.token_masked = masked.includes('****');
  result.token_revealed_length = (await card.getByLabel('WEBCHECK_TOKEN', { exact: true }).textContent()).trim().length;

  // Stopped by hand, behind Luna's back: Docker's events bring it to the page (the periodic
  // health check is minutes away in this test's settings).
  execFileSync('docker', ['stop', '-t', '1', options.container], { stdio: 'ignore', timeout: WAIT_MS });
  await card.locator('[data-status="stopped"]').waitFor({ timeout: 5_000 });
  result.hand_stop_seen = true;
  const banner = page.locator('#down-banner');
  await banner.waitFor({ timeout: WAIT_MS });
  result.banner = (await banner.textContent()).trim();
  await banner.getByRole('button', { name: /^Start / }).click();
  await card.locator('[data-status="running"]').waitFor({ timeout: WAIT_MS });
  await banner.waitFor({ state: 'detached', timeout: WAIT_MS });
  result.banner_start_worked = true;

  await card.getByRole('button', { name: 'Stop', exact: true }).click();
  await card.locator('[data-status="stopped"]').waitFor({ timeout: WAIT_MS });
  await banner.waitFor({ timeout: WAIT_MS });
  await screenshots(page, { ...options, pages: ['/infrastructure'], prefix: 'infrastructure-banner' }, result);

  await card.getByRole('button', { name: 'Uninstall' }).click();
  const dialog = page.getByRole('dialog', { name: /^Uninstall/ });
  const removeData = dialog.getByLabel(/Also delete its data volumes/);
  result.volumes_offered = await dialog.locator('.volumes').textContent();
  await removeData.check();
  await dialog.getByRole('button', { name: 'Uninstall' }).click();
  await card.waitFor({ state: 'detached', timeout: WAIT_MS });
  result.uninstalled = true;
  result.banner_after = await page.locator('#down-banner').count();
  await context.close();
}

/** Every page at both sizes; on the phone size nothing may be wider than the screen. */
async function screenshots(page, options, result) {
  if (!options.shots) return;
  mkdirSync(options.shots, { recursive: true });
  result.overflowing = result.overflowing ?? [];
  for (const size of SIZES) {
    await page.setViewportSize(size);
    for (const path of options.pages ?? PAGES) {
      await page.goto(`${options.luna}${path}`, { waitUntil: 'load' });
      await page.locator('#feed[data-state="live"]').waitFor({ timeout: WAIT_MS });
      await page.locator('main h1').first().waitFor({ timeout: WAIT_MS });
      const name = options.prefix ?? (path === '/' ? 'dashboard' : path.slice(1).replaceAll('/', '-'));
      await page.screenshot({ path: join(options.shots, `${name}-${size.width}x${size.height}.png`), fullPage: true });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      if (wide) result.overflowing.push(`${path} at ${size.width}x${size.height}`);
    }
  }
  await page.setViewportSize(SIZES[0]);
}

async function packagesJourney(browser, options, result) {
  const { luna } = options;
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  await openLoggedIn(page, luna, '/keys');

  // A key an extension requires, added from the page: masked once set.
  const row = page.locator('[data-keys-of="secretive"] [data-key="WEATHER_API_KEY"]');
  result.key_set_before = await row.getAttribute('data-set', { timeout: WAIT_MS });
  await row.getByRole('button', { name: 'Add WEATHER_API_KEY' }).click();
  await row.getByLabel('New value of WEATHER_API_KEY').fill('wk-live-4f8a9b2c7d1e');
  await row.getByRole('button', { name: 'Save' }).click();
  await page.locator('[data-keys-of="secretive"] [data-key="WEATHER_API_KEY"][data-set="true"]').waitFor({ timeout: WAIT_MS });
  result.key_masked = await row.locator('code').textContent();
  result.key_page_shows_value = (await page.content()).includes('wk-live-4f8a9b2c7d1e');
  const banner = page.locator('#restart-needed');
  result.restart_offered = await banner.textContent({ timeout: WAIT_MS });
  await banner.getByRole('button', { name: 'Restart them' }).click();
  await banner.waitFor({ state: 'detached', timeout: WAIT_MS });

  // Four changes in the draft; nothing happens until Apply.
  await page.getByRole('link', { name: 'Extensions' }).click();
  await page.locator('[data-extension="old"]').waitFor({ timeout: WAIT_MS });
  await page.getByRole('switch', { name: 'Enable hello' }).click();
  await page.getByLabel('Source').fill('github:octo/weather');
  await page.getByRole('button', { name: 'Add to draft' }).click();
  await page.locator('[data-extension="almanac"]').getByRole('button', { name: 'Update' }).click();
  await page.locator('[data-extension="old"]').getByRole('button', { name: 'Remove' }).click();
  await page.getByLabel('Or upload a zip').setInputFiles(options.zip);
  await page.locator('#pending-changes li', { hasText: 'from upload:' }).waitFor({ timeout: WAIT_MS });
  result.pending = await page.locator('#pending-changes li').allTextContents();
  await page.getByRole('button', { name: 'Save to queue' }).click();
  await page.locator('#queue-state', { hasText: 'Saved to the queue.' }).waitFor({ timeout: WAIT_MS });
  // A change after saving, reverted: the saved draft comes back.
  await page.getByRole('switch', { name: 'Enable hello' }).click();
  result.pending_after_change = await page.locator('#pending-changes li').allTextContents();
  await page.getByRole('button', { name: 'Revert' }).click();
  result.pending_after_revert = await page.locator('#pending-changes li').allTextContents();
  await shoot(page, options, 'extensions-draft');

  await page.getByRole('button', { name: 'Apply' }).click();
  const outcome = page.locator('#apply-outcome');
  await outcome.waitFor({ timeout: APPLY_WAIT_MS });
  result.apply_outcome = await outcome.textContent();
  result.apply_progress = await page.locator('#apply-progress pre').textContent();
  await page.locator('[data-extension="weather"]').waitFor({ timeout: WAIT_MS });
  await page.locator('[data-extension="old"]').waitFor({ state: 'detached', timeout: WAIT_MS });
  result.hello_enabled_after = await page.getByRole('switch', { name: 'Enable hello' }).getAttribute('aria-checked');
  result.pending_after_apply = await page.locator('#pending-changes li').count();
  await shoot(page, options, 'extensions-applied');

  // An extension's readme, rendered without its raw HTML or script links.
  await page.goto(`${luna}/extensions/secretive?tab=about`);
  const readme = page.locator('#readme');
  await readme.locator('h1').waitFor({ timeout: WAIT_MS });
  result.readme_heading = await readme.locator('h1').textContent();
  result.readme_dangerous = await readme.evaluate(
    (element) => element.querySelectorAll('script, img, iframe, [onerror], a[href^="javascript"]').length,
  );

  // The bearer token regenerated, after a confirmation.
  await page.goto(`${luna}/mcp`);
  await page.getByRole('button', { name: 'Regenerate token' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Regenerate' }).click();
  const fresh = page.locator('code[aria-label="New bearer token (MCP_AUTH_TOKEN)"]');
  await fresh.waitFor({ timeout: WAIT_MS });
  result.new_token = await fresh.textContent();
  await context.close();
}

async function memberJourney(browser, options, result) {
  const { luna } = options;
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  await openLoggedIn(page, luna, '/extensions');
  await page.locator('#member-note').waitFor({ timeout: WAIT_MS });
  result.role_shown = await page.locator('#role').textContent();
  result.keys_in_nav = await page.getByRole('navigation', { name: 'Hub' }).getByRole('link', { name: 'Keys' }).count();
  const card = page.locator('li[data-extension="hello"]');
  await card.waitFor({ timeout: WAIT_MS });
  result.enable_switch_disabled = await card.getByRole('switch', { name: 'Enable hello' }).isDisabled();
  result.install_offered = await page.getByRole('heading', { name: 'Install an extension' }).count();
  await shoot(page, options, 'member-extensions');

  await page.goto(`${luna}/extensions/hello?tab=tools`);
  const tool = page.locator('li[data-tool]').first();
  await tool.waitFor({ timeout: WAIT_MS });
  result.tool_switch_disabled = await tool.getByRole('switch', { name: /^Enabled in MCP/ }).isDisabled();

  await page.goto(`${luna}/mcp`);
  const regenerate = page.getByRole('button', { name: 'Regenerate token' });
  await regenerate.waitFor({ timeout: WAIT_MS });
  result.regenerate_disabled = await regenerate.isDisabled();
  result.reveal_offered = await page.getByRole('button', { name: 'Reveal' }).count();

  const ui = await page.goto(`${luna}/ext/hello/`);
  result.hello_ui_status = ui.status();
  await context.close();
}

async function offersJourney(browser, options, result) {
  const { luna } = options;
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  await openLoggedIn(page, luna, '/extensions/everything?tab=tools');
  const prompt = page.locator('li[data-offer="test_simple_prompt"]');
  await prompt.waitFor({ timeout: WAIT_MS });
  result.offer_groups = await page.locator('section[aria-labelledby^="offers-"] h2').allTextContents();
  const offerSwitch = prompt.getByRole('switch', { name: /^Offered over MCP/ });
  result.offer_enabled_before = await offerSwitch.getAttribute('aria-checked');
  await shoot(page, options, 'extension-offers');
  await offerSwitch.click();
  await page.waitForFunction(
    () => document.querySelector('li[data-offer="test_simple_prompt"] [role=switch]')?.getAttribute('aria-checked') === 'false',
    null,
    { timeout: WAIT_MS },
  );
  result.offer_enabled_after = await offerSwitch.getAttribute('aria-checked');
  await page.goto(`${luna}/mcp`);
  const summary = page.locator('#offered-summary');
  await summary.waitFor({ timeout: WAIT_MS });
  result.offered_summary = await summary.textContent();
  await context.close();
}

async function appsJourney(browser, options, result) {
  const { luna } = options;
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  await openLoggedIn(page, luna, '/');
  const app = `http://hostile.localhost:${new URL(luna).port}`;
  await page.goto(`${app}/`);
  await page.waitForURL((url) => url.origin === app && url.pathname === '/', { timeout: WAIT_MS });
  result.app_url = page.url();
  await page.locator('body[data-done="true"]').waitFor({ timeout: WAIT_MS });
  result.attacks = JSON.parse(await page.locator('#results').textContent());
  const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
  result.frame_shows_hub = frame ? await frame.locator('#root').count().catch(() => 0) : 0;
  result.app_cookies = (await context.cookies(app)).map((cookie) => cookie.name).sort();

  // The Hub, after the attacks: still logged in.
  await page.goto(`${luna}/`);
  await page.locator('#feed[data-state="live"]').waitFor({ timeout: WAIT_MS });
  result.hub_who = (await page.locator('#who').textContent()).trim();
  result.hub_cookies = (await context.cookies(luna)).map((cookie) => cookie.name).sort();

  // Logging out of the Hub closes the app's origin too.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL((url) => url.pathname === '/auth/logged-out', { timeout: WAIT_MS });
  // A page of the app's origin that starts no hop (a spent link), then a request from it.
  await page.goto(`${app}/__luna/callback`);
  result.app_after_logout = await page.evaluate(async () => (await fetch('/app.js')).status);
  await context.close();
}

async function chatJourney(browser, options, result) {
  const { luna } = options;
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  const landed = await openLoggedIn(page, luna, '/chat');
  result.landed = landed.pathname;
  const picker = page.getByTestId('chat-agent');
  await picker.locator('option[value="simple_agent"]').waitFor({ state: 'attached', timeout: WAIT_MS });
  result.agents = await picker.locator('option').evaluateAll((options) => options.map((option) => option.value));
  await picker.selectOption('simple_agent');
  await page.getByLabel('Message', { exact: true }).fill('Say hello to Ada');
  await page.getByTestId('chat-send').click();

  // Finished: the assistant's turn is no longer streaming and Send can be pressed again.
  const turn = page.getByTestId('chat-assistant').last();
  await turn.waitFor({ timeout: WAIT_MS });
  await page.waitForFunction(
    () => {
      const turns = document.querySelectorAll('[data-testid="chat-assistant"]');
      const last = turns[turns.length - 1];
      const send = document.querySelector('[data-testid="chat-send"]');
      return last && last.getAttribute('data-state') !== 'streaming' && send && !send.disabled;
    },
    null,
    { timeout: ANSWER_WAIT_MS },
  );
  result.answer_state = await turn.getAttribute('data-state');
  result.streaming_shown_after = await page.getByTestId('chat-streaming').count();
  result.answer = (await turn.getByTestId('chat-answer-text').allTextContents()).join('');
  result.tools = await turn.getByTestId('chat-tool').evaluateAll((cards) =>
    cards.map((card) => ({
      name: card.getAttribute('data-tool-name'),
      status: card.getAttribute('data-status'),
      result: card.querySelector('[data-testid="chat-tool-result"]')?.textContent ?? null,
    })),
  );
  const error = turn.getByTestId('chat-error');
  result.answer_error = (await error.count()) ? await error.textContent() : null;
  const usage = turn.getByTestId('chat-usage');
  result.usage = (await usage.count()) ? (await usage.textContent()).trim() : null;

  // The same request from code: the key stays a placeholder.
  await page.getByTestId('chat-code').locator('summary').click();
  const curl = (await page.getByTestId('chat-snippet-curl').textContent()) ?? '';
  result.snippet_has_key_placeholder = curl.includes('$AGENT_API_KEY') && !curl.includes('sk-luna-');
  result.page_has_key = (await page.content()).includes('sk-luna-');
  await shoot(page, options, 'chat-1280x800');
  await page.setViewportSize(SIZES[1]);
  result.overflowing = (await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1))
    ? [`/chat at ${SIZES[1].width}x${SIZES[1].height}`]
    : [];
  await shoot(page, options, 'chat-390x844');
  await context.close();
}

/** A TCP port nothing on this host listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The ids of the Store's cards once the grid shows the answer to `query` (the filters as the
 * page's URL spells them: `type=external_service&no_secrets=true`, '' for none).
 */
async function storeCards(page, query) {
  try {
    await page.waitForFunction(
      (expected) => {
        const results = document.querySelector('#store-results');
        return results?.dataset.state === 'ready' && results.dataset.query === expected;
      },
      query,
      { timeout: WAIT_MS },
    );
  } catch {
    const shown = await page
      .locator('#store-results')
      .evaluate((results) => `${results.dataset.state} "${results.dataset.query}"`)
      .catch(() => 'no grid');
    const alert = await page.locator('main [role="alert"]').allTextContents().catch(() => []);
    throw new Error(`the store's grid did not settle on "${query}" (it shows ${shown}) ${alert.join(' ')}`.trim());
  }
  return page.locator('#store-results li[data-addon]').evaluateAll((cards) => cards.map((card) => card.dataset.addon));
}

async function storeJourney(browser, options, result) {
  const { luna } = options;
  const extension = options['store-extension'];
  const service = options['store-service'];
  const word = options['store-search'];
  const context = await browser.newContext({ viewport: SIZES[0] });
  const page = await context.newPage();
  await openLoggedIn(page, luna, '/store');
  await page.getByRole('heading', { level: 1, name: 'Addon Store' }).waitFor({ timeout: WAIT_MS });
  result.all_cards = await storeCards(page, '');
  await shoot(page, options, 'store');

  // The search is the server's, asked for as one types (after a pause).
  const search = page.getByLabel('Search the store');
  await search.fill(word);
  result.search_cards = await storeCards(page, new URLSearchParams({ q: word }).toString());
  await search.fill('');
  await storeCards(page, '');

  // Filters combine, live in the URL and survive a reload.
  const filtered = 'type=external_service&no_secrets=true';
  await page.getByRole('radio', { name: 'Services', exact: true }).check();
  await page.getByRole('checkbox', { name: 'No keys needed', exact: true }).check();
  result.filtered_cards = await storeCards(page, filtered);
  result.filtered_url = new URL(page.url()).search;
  await page.reload({ waitUntil: 'load' });
  const afterReload = await storeCards(page, filtered);
  result.filters_kept_after_reload =
    JSON.stringify(afterReload) === JSON.stringify(result.filtered_cards) &&
    (await page.getByRole('radio', { name: 'Services', exact: true }).isChecked()) &&
    (await page.getByRole('checkbox', { name: 'No keys needed', exact: true }).isChecked());
  await page.getByRole('button', { name: 'Clear filters' }).first().click();
  await storeCards(page, '');

  // The extension's detail view, opened by a click on its card (not on a button).
  const card = page.locator(`#store-results li[data-addon="${extension}"]`);
  if (!(await card.count())) throw new Error(`the store shows no card for ${extension}: ${result.all_cards.join(', ')}`);
  await card.locator('.store-description').click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('heading', { level: 3, name: 'Overview' }).waitFor({ timeout: WAIT_MS });
  result.detail_title = (await dialog.getByRole('heading', { level: 2 }).first().textContent()).trim();
  result.detail_sections = await dialog.getByRole('heading', { level: 3 }).allTextContents();
  result.detail_dependencies = await dialog.locator('[data-dependency] .dependency-name').allTextContents();
  await shoot(page, options, 'store-detail');

  // Installed from the dialog, its progress shown to the end.
  await dialog.locator('.dialog-footer').getByRole('button', { name: /^Install / }).click();
  const outcome = dialog.locator('#store-install-outcome');
  try {
    await outcome.waitFor({ timeout: STORE_INSTALL_WAIT_MS });
  } catch {
    const lines = await dialog.locator('.progress-lines li').allTextContents().catch(() => []);
    throw new Error(`installing ${extension} from the store did not end in ${STORE_INSTALL_WAIT_MS / 1000} s: ${lines.join(' | ')}`);
  }
  result.extension_steps = await dialog.locator('.progress-lines li').allTextContents();
  if ((await outcome.getAttribute('data-outcome')) !== 'installed') {
    throw new Error(`installing ${extension} from the store failed: ${(await outcome.textContent()).trim()}`);
  }
  result.extension_installed = true;
  result.extension_manage_href = await outcome.getByRole('link').getAttribute('href');
  await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'hidden', timeout: WAIT_MS });
  try {
    await page.locator(`#store-results li[data-addon="${extension}"][data-installed="true"]`).waitFor({ timeout: WAIT_MS });
  } catch {
    throw new Error(`the card of ${extension} does not say it is installed: ${(await card.textContent()).trim()}`);
  }
  result.extension_card_installed = (await card.textContent()).includes('✓ Installed');

  // The service, from its card: its definition, then its form, then its connection values.
  const serviceCard = page.locator(`#store-results li[data-addon="${service}"]`);
  if (!(await serviceCard.count())) throw new Error(`the store shows no card for ${service}: ${result.all_cards.join(', ')}`);
  await serviceCard.getByRole('button', { name: /^Install/ }).click();
  const form = dialog.getByRole('region', { name: `Install ${service}`, exact: true });
  const failed = dialog.locator('[data-outcome="failed"]');
  try {
    await form.or(failed).first().waitFor({ timeout: STORE_INSTALL_WAIT_MS });
  } catch {
    throw new Error(`the form of ${service} did not appear: ${(await dialog.textContent().catch(() => '')).trim().slice(0, 500)}`);
  }
  if (await failed.count()) throw new Error(`installing ${service} from the store failed: ${(await failed.textContent()).trim()}`);
  result.service_steps = await dialog.locator('.progress-lines li').allTextContents();
  // Its defaults; a required port without one (the test fixture's) gets a free port of this host.
  await form.getByRole('button', { name: 'Install', exact: true }).waitFor({ timeout: WAIT_MS });
  result.service_filled = {};
  for (const input of await form.locator('input[required]').all()) {
    if ((await input.inputValue()) !== '') continue;
    const field = await input.getAttribute('name');
    if ((await input.getAttribute('type')) !== 'number' || !/port/i.test(field)) {
      throw new Error(`the form of ${service} has a required field without a default: ${field}`);
    }
    const free = await freePort();
    await input.fill(String(free));
    result.service_filled[field] = free;
  }
  await form.getByRole('button', { name: 'Install', exact: true }).click();
  const values = form.getByRole('group', { name: `Connection values of ${service}`, exact: true });
  const problem = form.locator('[role="alert"]');
  try {
    await values.or(problem).first().waitFor({ timeout: SERVICE_INSTALL_WAIT_MS });
  } catch {
    const steps = await form.locator('.progress li').allTextContents().catch(() => []);
    throw new Error(`installing ${service} from its form did not end in ${SERVICE_INSTALL_WAIT_MS / 1000} s: ${steps.join(' | ')}`);
  }
  if (!(await values.count())) {
    throw new Error(`installing ${service} from its form failed: ${(await problem.allTextContents()).join(' ')}`);
  }
  result.service_install_steps = await form.locator('.progress li').allTextContents();
  result.service_values = await values.locator('.secret-label').allTextContents();
  const shown = await values.locator('.secret-value').allTextContents();
  result.service_values_masked = shown.some((value) => /\*{4}/.test(value));
  await shoot(page, options, 'store-service-values');
  await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  await dialog.waitFor({ state: 'hidden', timeout: WAIT_MS });
  try {
    await page.locator(`#store-results li[data-addon="${service}"][data-installed="true"]`).waitFor({ timeout: WAIT_MS });
  } catch {
    throw new Error(`the card of ${service} does not say it is installed: ${(await serviceCard.textContent()).trim()}`);
  }
  result.service_card_installed = (await serviceCard.textContent()).includes('✓ Installed');

  await page.setViewportSize(SIZES[1]);
  result.overflowing = (await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1))
    ? [`/store at ${SIZES[1].width}x${SIZES[1].height}`]
    : [];
  await shoot(page, options, 'store-390x844');
  await context.close();
}

/** One screenshot, when --shots is given. */
async function shoot(page, options, name) {
  if (!options.shots) return;
  mkdirSync(options.shots, { recursive: true });
  await page.screenshot({ path: join(options.shots, `${name}.png`), fullPage: true });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const result = { journey: options.journey, completed: false, console_errors: [] };
  const browser = await chromium.launch({
    executablePath: options.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  browser.on('disconnected', () => {});
  try {
    // Errors of the Hub's own pages; an app's page (the apps journey's attacks) may fail.
    const watch = (context) =>
      context.on('page', (page) =>
        page.on('console', (message) => {
          if (message.type() === 'error' && page.url().startsWith(options.luna)) result.console_errors.push(message.text());
        }),
      );
    const newContext = browser.newContext.bind(browser);
    browser.newContext = async (...args) => {
      const context = await newContext(...args);
      watch(context);
      return context;
    };
    if (options.journey === 'extensions') await extensionsJourney(browser, options, result);
    else if (options.journey === 'packages') await packagesJourney(browser, options, result);
    else if (options.journey === 'member') await memberJourney(browser, options, result);
    else if (options.journey === 'apps') await appsJourney(browser, options, result);
    else if (options.journey === 'chat') await chatJourney(browser, options, result);
    else if (options.journey === 'store') await storeJourney(browser, options, result);
    else if (options.journey === 'offers') await offersJourney(browser, options, result);
    else await infrastructureJourney(browser, options, result);
    result.completed = true;
  } catch (error) {
    result.error = String(error?.message ?? error).slice(0, 2000);
  } finally {
    await browser.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(result.completed ? 0 : 1);
}

main();
