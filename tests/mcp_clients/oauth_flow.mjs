#!/usr/bin/env node
// Luna's OAuth 2.1 authorization server end to end, driven by the official MCP TypeScript SDK
// (`@modelcontextprotocol/sdk`, pinned in package.json) as the OAuth client.
//
//     node oauth_flow.mjs --url http://127.0.0.1:PORT/api/mcp [--client-name NAME]
//
// Without --client-name the client registers with no `client_name`, as the SDK does when the
// application sets none. The SDK's StreamableHTTPClientTransport, given an OAuthClientProvider,
// meets the first 401, discovers the metadata (RFC 9728, RFC 8414), registers (RFC 7591) and
// hands this script the authorization URL. The script then plays the browser: it follows Luna's
// redirects by hand (keeping cookies) through /auth/login, the stand-in GitHub and /auth/callback
// back to /api/authorize, reads the consent page and submits it as a browser would (same-origin
// Origin and Sec-Fetch-Site), and takes the code from the redirect to the client's redirect URI,
// which it never visits. The SDK then swaps the code (PKCE S256) and connects.
//
// Steps: connect, tools (tools/list), call (HELLO_GET_greeting), refresh (the stored access token
// is replaced by a dead one: the next call makes the SDK refresh, and the refresh token rotates),
// revoke (RFC 7009 at the revocation endpoint), after_revoke (the access token is refused within
// 10 s; the refresh token gets invalid_grant).
//
// Output: one JSON object on the last stdout line; exit 0 when every step passed, 1 otherwise
// (with "error" and "step").

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const { values: options } = parseArgs({
  options: { url: { type: 'string' }, 'client-name': { type: 'string' } },
});
if (!options.url) {
  console.error('usage: oauth_flow.mjs --url http://127.0.0.1:PORT/api/mcp [--client-name NAME]');
  process.exit(2);
}
const mcpUrl = new URL(options.url);
const site = mcpUrl.origin;
// Never visited: the code is read from the redirect that points here.
const callback = 'http://127.0.0.1:9/callback';
const MAX_BROWSER_HOPS = 10;

const summary = { step: 'setup' };

/** The SDK's OAuthClientProvider, kept in memory for this run. */
class MemoryProvider {
  constructor(clientName) {
    this.metadata = {
      redirect_uris: [callback],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(clientName === undefined ? {} : { client_name: clientName }),
    };
    this.stateValue = randomBytes(16).toString('hex');
  }
  get redirectUrl() { return callback; }
  get clientMetadata() { return this.metadata; }
  state() { return this.stateValue; }
  clientInformation() { return this.client; }
  saveClientInformation(client) { this.client = client; }
  tokens() { return this.currentTokens; }
  saveTokens(tokens) { this.currentTokens = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
}

/** A browser as far as cookies and redirects go, one cookie jar per origin. */
class Browser {
  constructor() { this.jars = new Map(); }

  async request(url, init = {}) {
    const target = new URL(url);
    const jar = this.jars.get(target.origin) ?? new Map();
    const headers = { Accept: 'text/html', ...(init.headers ?? {}) };
    if (jar.size > 0) {
      headers.Cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1)];
      if (/max-age=0/i.test(line)) jar.delete(name); else jar.set(name, value);
    }
    this.jars.set(target.origin, jar);
    return response;
  }

  /** Follows redirects from `url` until one points at `stop` (returned, not followed) or a page. */
  async navigate(url, stop) {
    let next = new URL(url);
    for (let hop = 0; hop < MAX_BROWSER_HOPS; hop += 1) {
      if (next.href.startsWith(stop)) return { redirectedTo: next };
      const response = await this.request(next);
      if (![301, 302, 303, 307, 308].includes(response.status)) return { page: response, url: next };
      next = new URL(response.headers.get('location'), next);
    }
    throw new Error(`more than ${MAX_BROWSER_HOPS} redirects`);
  }
}

function hidden(page, name) {
  const found = page.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!found) throw new Error(`no ${name} on the consent page: ${page.slice(0, 500)}`);
  return found[1];
}

/** The browser's part of the authorization: login, consent, and the code it leads to. */
async function authorizeInBrowser(provider) {
  const browser = new Browser();
  const consent = await browser.navigate(provider.authorizationUrl, callback);
  if (!consent.page) throw new Error(`sent to the client before any consent: ${consent.redirectedTo}`);
  const page = await consent.page.text();
  if (consent.page.status !== 200) throw new Error(`consent page ${consent.page.status}: ${page.slice(0, 500)}`);
  summary.consent_text = page.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  const form = new URLSearchParams({
    consent: hidden(page, 'consent'),
    csrf: hidden(page, 'csrf'),
    decision: 'approve',
  });
  const answered = await browser.request(new URL('/api/authorize', site), {
    method: 'POST',
    body: form,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: site, 'Sec-Fetch-Site': 'same-origin' },
  });
  const location = new URL(answered.headers.get('location') ?? '', site);
  if (!location.href.startsWith(callback)) throw new Error(`approval answered ${answered.status} to ${location}`);
  summary.iss_ok = location.searchParams.get('iss') === site;
  summary.state_ok = location.searchParams.get('state') === provider.stateValue;
  return location.searchParams.get('code');
}

async function connect(provider) {
  const client = new Client({ name: 'luna-oauth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
  return client;
}

/** A POST to one of Luna's OAuth endpoints, form-encoded, as the SDK would send it. */
async function oauthPost(path, form) {
  const response = await fetch(new URL(path, site), {
    method: 'POST',
    body: new URLSearchParams(form),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
  });
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

/** A stateless tools/list with `token` as the bearer; returns the HTTP status. */
async function mcpStatus(token) {
  const response = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'probe', version: '1' } },
    }),
  });
  await response.body?.cancel();
  return response.status;
}

async function main() {
  const provider = new MemoryProvider(options['client-name']);

  summary.step = 'connect';
  try {
    await connect(provider);
    throw new Error('connected without authorization');
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  summary.registered = provider.client;
  summary.step = 'authorize';
  const code = await authorizeInBrowser(provider);
  summary.step = 'connect';
  await new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }).finishAuth(code);
  let client = await connect(provider);

  summary.step = 'tools';
  summary.tools = (await client.listTools()).tools.map((tool) => tool.name);
  summary.step = 'call';
  summary.call = await client.callTool({ name: 'HELLO_GET_greeting', arguments: { name: 'TypeScript' } });
  await client.close();

  summary.step = 'refresh';
  const before = provider.tokens();
  provider.saveTokens({ ...before, access_token: 'expired-access-token' });
  client = await connect(provider);
  const after = provider.tokens();
  summary.refreshed = after.access_token !== before.access_token && after.access_token !== 'expired-access-token';
  summary.rotated = Boolean(after.refresh_token) && after.refresh_token !== before.refresh_token;
  summary.call_after_refresh = await client.callTool({ name: 'HELLO_GET_greeting', arguments: { name: 'again' } });
  await client.close();

  summary.step = 'revoke';
  const clientId = provider.clientInformation().client_id;
  const revoked = await oauthPost('/api/revoke', { token: after.refresh_token, client_id: clientId });
  summary.revoke_status = revoked.status;

  summary.step = 'after_revoke';
  const started = Date.now();
  do {
    summary.after_revoke_status = await mcpStatus(after.access_token);
    if (summary.after_revoke_status === 401) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  } while (Date.now() - started < 10_000);
  const refused = await oauthPost('/api/token', {
    grant_type: 'refresh_token', refresh_token: after.refresh_token, client_id: clientId,
  });
  summary.refresh_after_revoke = refused.body.error;
  summary.step = 'done';
}

try {
  await main();
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: String(error?.stack ?? error) }));
  process.exitCode = 1;
}
