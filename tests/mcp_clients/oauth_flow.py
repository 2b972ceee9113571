#!/usr/bin/env python3
"""Luna's OAuth 2.1 authorization server end to end, driven by the official `mcp` Python SDK (2.3.x).

    oauth_flow.py --url http://127.0.0.1:PORT/api/mcp [--tool NAME] [--args JSON]
                  [--protocol 2025-11-25|2026-07-28] [--timeout S]

The SDK's `OAuthClientProvider` (an `httpx2.Auth`) is given to the streamable HTTP transport through
the httpx2 client it uses. On the first 401 it discovers the protected-resource metadata (RFC 9728)
and the authorization-server metadata (RFC 8414), registers a public client (RFC 7591), and hands
us the authorization URL. This script then plays the browser: it follows Luna's redirects by hand
(keeping cookies) through `/auth/login`, the (stand-in) GitHub and `/auth/callback` back to
`/api/authorize`, reads Luna's consent page, POSTs `decision=approve`, and takes `code`, `state` and
`iss` from the `Location` of the redirect to the client's redirect URI, which it never follows.
The SDK then swaps the code for tokens (PKCE S256) and retries the MCP request with the bearer.

Steps, all of which must pass:
    connect   OAuth discovery, registration, login + consent, code exchange, MCP handshake
    tools     tools/list (all pages)
    call      tools/call --tool --args (default HELLO_GET_greeting {"name": "OAuth"})
    refresh   the stored access token is made to look expired; the next call makes the SDK
              refresh it (refresh_token grant): a NEW access token and a NEW refresh token
              (rotation), and the call succeeds without a second authorization
    revoke    the current refresh token is revoked at the revocation endpoint (RFC 7009)
    after_revoke
              a tool call with the (old) access token gets HTTP 401 (polled, at most 10 s: Luna
              may trust a live grant for up to 5 s), and the refresh token is refused at the
              token endpoint with `invalid_grant`

Output: ONE JSON object on the last stdout line. Exit 0 when every step passed; on any failure
exit 1 with {"error": str, "step": str, ...what was learned so far} (step: connect, authorize (the
browser part of connect), tools, call, refresh, revoke, after_revoke). Exit 2 = usage error.
The summary: {"discovered": {...metadata...}, "registered_client_id", "authorization_request": {...},
"browser_hops": [...], "consent_seen", "iss_ok", "consent_page_headers", "browser_warnings", "token",
"tools", "call", "refreshed", "rotated", "call_after_refresh", "revoked", "after_revoke_status",
"after_revoke_seconds", "after_revoke_www_authenticate", "pre_refresh_access_token_status",
"refresh_after_revoke", "authorizations", "oauth_requests": [every request of the SDK's client]}.

This script is not a browser: `browser_warnings` lists what on the consent page would stop a real
one (they do not fail the run), and `--consent-origin null` sends the `Origin` a Fetch-conforming
browser sends with that form POST.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx2  # the SDK's HTTP client (a fork of httpx), installed as a dependency of `mcp`
import mcp_types as types
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from client import all_tools  # the sibling client.py (this script's folder is on sys.path)

if sys.version_info < (3, 11):  # builtin from 3.11; anyio pulls in the backport on 3.10
    from exceptiongroup import BaseExceptionGroup

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
MAX_BROWSER_HOPS = 10
# Order of the keys in the printed summary (anything else follows).
SUMMARY_ORDER = (
    "error", "step", "discovered", "registered_client_id", "registered_auth_method", "authorization_request",
    "browser_hops", "consent_seen", "iss_ok", "consent_page_headers", "browser_warnings", "token", "tools", "call",
    "refreshed", "rotated", "refresh_requests", "call_after_refresh", "revoked", "after_revoke_status",
    "after_revoke_seconds", "after_revoke_attempts", "after_revoke_www_authenticate",
    "pre_refresh_access_token_status", "refresh_after_revoke", "refresh_after_revoke_status", "authorizations",
    "oauth_requests",
)
REVOCATION_POLL_LIMIT = 10.0  # seconds; Luna trusts a live grant for up to 5 s
REVOCATION_EXPECTED_WITHIN = 6.0


class StepFailed(Exception):
    def __init__(self, step: str, message: str):
        super().__init__(message)
        self.step = step


class Progress:
    """Which step is running (so a failure deep inside the SDK can be attributed) and the summary."""

    def __init__(self) -> None:
        self.step = "setup"
        self.summary: dict[str, Any] = {}

    def fail(self, message: str) -> StepFailed:
        return StepFailed(self.step, message)


class InMemoryTokenStorage(TokenStorage):
    """The SDK's `TokenStorage` protocol, kept in memory for this run only."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class RequestLog:
    """httpx2 response hook: every request the SDK's client made (the OAuth provider's own discovery,
    registration and token requests included, as httpx2 runs hooks for auth-flow requests too) and
    the HTTP statuses of MCP POSTs. Bodies are never read here (SSE streams)."""

    def __init__(self, mcp_url: str) -> None:
        self.mcp_path = urlsplit(mcp_url).path
        self.entries: list[dict[str, Any]] = []
        self.last_mcp_error: dict[str, Any] | None = None  # last MCP POST answered >= 400

    async def __call__(self, response: httpx2.Response) -> None:
        request = response.request
        entry: dict[str, Any] = {"method": request.method, "path": request.url.path, "status": response.status_code}
        if request.method == "POST" and request.url.path != self.mcp_path:
            try:
                form = parse_qs(request.content.decode(), keep_blank_values=True)
                if "grant_type" in form:
                    entry["grant_type"] = form["grant_type"][0]
            except (UnicodeDecodeError, httpx2.RequestNotRead):
                pass
        self.entries.append(entry)
        if request.method == "POST" and request.url.path == self.mcp_path and response.status_code >= 400:
            self.last_mcp_error = {
                "status": response.status_code,
                "www_authenticate": response.headers.get("www-authenticate"),
            }

    def token_requests(self, grant_type: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e.get("grant_type") == grant_type]


class ConsentForm(HTMLParser):
    """The first `<form>` of Luna's consent page: its action and method, hidden inputs, submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.hidden: dict[str, str] = {}
        self.decisions: list[str] = []
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and not self._done and not self._in_form:
            self._in_form = True
            self.action, self.method = a.get("action", ""), a.get("method", "get").lower()
        elif self._in_form and tag == "input" and a.get("type", "text") == "hidden" and a.get("name"):
            self.hidden[a["name"]] = a.get("value", "")
        elif self._in_form and tag == "button" and a.get("type", "submit") == "submit" and a.get("name") == "decision":
            self.decisions.append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form, self._done = False, True


class Browser:
    """Plays the user's browser for the SDK's redirect handler.

    Follows redirects by hand with a cookie-keeping httpx2 client, never into the client's
    redirect URI; answers Luna's consent page with `decision`; keeps the `code`/`state`/`iss`
    for the SDK's callback handler."""

    def __init__(self, progress: Progress, site: str, redirect_uri: str, consent_origin: str) -> None:
        self.progress = progress
        self.site = site
        self.redirect_uri = redirect_uri
        self.decision = "approve"
        self.consent_origin = consent_origin
        self.http = httpx2.AsyncClient(
            follow_redirects=False,
            timeout=httpx2.Timeout(30.0),
            headers={"Accept": "text/html,application/xhtml+xml", "User-Agent": "luna-oauth-flow-test/1.0"},
        )
        self.result: AuthorizationCodeResult | None = None
        self.authorizations = 0
        self.allow_authorization = True

    async def aclose(self) -> None:
        await self.http.aclose()

    async def redirect_handler(self, authorization_url: str) -> None:
        """The SDK calls this with the authorization URL (a real client opens a browser here)."""
        p = self.progress
        self.authorizations += 1
        self.result = None
        if not self.allow_authorization:
            raise p.fail(f"the SDK started an unexpected authorization (#{self.authorizations})")
        outer_step, p.step = p.step, "authorize"
        try:
            await self._authorize(authorization_url)
        finally:
            p.step = outer_step

    async def _authorize(self, authorization_url: str) -> None:
        p = self.progress
        params = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
        p.summary["authorization_request"] = {
            "endpoint": authorization_url.split("?", 1)[0],
            **{k: params.get(k) for k in ("response_type", "client_id", "redirect_uri", "scope", "resource",
                                          "code_challenge_method")},
            "state_sent": "state" in params,
            "code_challenge_sent": "code_challenge" in params,
        }
        if params.get("redirect_uri") != self.redirect_uri:
            raise p.fail(f"authorization URL names redirect_uri {params.get('redirect_uri')!r}, "
                         f"registered {self.redirect_uri!r}")

        hops: list[str] = []
        p.summary["browser_hops"] = hops
        url = authorization_url
        response: httpx2.Response | None = None
        for _ in range(MAX_BROWSER_HOPS):
            response = await self.http.get(url)
            hops.append(f"GET {self._short(url)} -> {response.status_code}")
            if not response.is_redirect:
                break
            location = response.headers.get("location")
            if not location:
                raise p.fail(f"{response.status_code} without Location from {url}")
            url = urljoin(url, location)
            if url.startswith(self.redirect_uri):
                # Luna sent the browser back to the client before any consent: an OAuth error.
                query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
                raise p.fail(f"redirected to the client before consent: {query}")
        else:
            raise p.fail(f"more than {MAX_BROWSER_HOPS} redirects: {hops}")
        assert response is not None
        page_url = url
        if response.status_code != 200:
            raise p.fail(f"the authorization ended on HTTP {response.status_code} at {page_url}: "
                         f"{self._text(response.text)}")

        p.summary["consent_page_headers"] = {
            "content-security-policy": response.headers.get("content-security-policy"),
            "referrer-policy": response.headers.get("referrer-policy"),
            "x-frame-options": response.headers.get("x-frame-options"),
        }
        p.summary["browser_warnings"] = browser_warnings(response.headers, self.site, self.redirect_uri)
        form = ConsentForm()
        form.feed(response.text)
        consent_seen = (
            form.method == "post"
            and bool(form.action)
            and urlsplit(urljoin(page_url, form.action or "")).path == "/api/authorize"
            and bool(form.hidden.get("consent"))
            and bool(form.hidden.get("csrf"))
            and {"approve", "deny"} <= set(form.decisions)
        )
        p.summary["consent_seen"] = consent_seen
        if not consent_seen:
            raise p.fail(f"no consent form at {page_url}: action={form.action!r} method={form.method!r} "
                         f"hidden={sorted(form.hidden)} decisions={form.decisions} page={self._text(response.text)}")

        action = urljoin(page_url, form.action or "")
        # What a browser adds to a same-origin form submission (see --consent-origin).
        headers = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        if self.consent_origin == "site":
            headers.update({"Origin": self.site, "Referer": page_url})
        elif self.consent_origin == "null":
            headers["Origin"] = "null"
        answer = await self.http.post(
            action,
            data={"consent": form.hidden["consent"], "csrf": form.hidden["csrf"], "decision": self.decision},
            headers=headers,
        )
        hops.append(f"POST {self._short(action)} decision={self.decision} -> {answer.status_code}")
        location = answer.headers.get("location")
        if answer.status_code not in (302, 303) or not location:
            raise p.fail(f"consent POST (Origin: {headers.get('Origin', '(none)')}) answered {answer.status_code} "
                         f"(expected a 302 to the redirect URI): "
                         f"{self._text(answer.text)}")
        back = urljoin(action, location)
        if not back.startswith(self.redirect_uri):
            raise p.fail(f"consent POST redirected to {back!r}, not to the registered {self.redirect_uri!r}")
        hops.append(f"(not followed) {back.split('?', 1)[0]}")
        query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
        iss = query.get("iss")
        p.summary["iss_ok"] = iss == self.site
        if "error" in query:
            raise p.fail(f"authorization error: {query}")
        if iss != self.site:
            raise p.fail(f"iss in the redirect is {iss!r}, expected the site root {self.site!r}")
        if query.get("state") != params.get("state"):
            raise p.fail(f"state in the redirect {query.get('state')!r} differs from the one sent")
        if not query.get("code"):
            raise p.fail(f"no code in the redirect: {query}")
        self.result = AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=iss)

    async def callback_handler(self) -> AuthorizationCodeResult:
        """The SDK calls this after the redirect handler (a real client waits on its loopback server)."""
        if self.result is None:
            raise self.progress.fail("no authorization code was obtained")
        result, self.result = self.result, None
        return result

    def _short(self, url: str) -> str:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return parts.path if origin == self.site else f"{origin}{parts.path}"

    @staticmethod
    def _text(body: str) -> str:
        return " ".join(body.split())[:400]


def csp_source_allows(source: str, site: str, url: str) -> bool:
    """Simplified CSP source matching (CSP3 §6.7.2) of `url` against one source expression."""
    target = urlsplit(url)
    if source == "'self'":
        return f"{target.scheme}://{target.netloc}" == site
    if source == "*":
        return target.scheme in ("http", "https")
    if source.endswith(":") and "/" not in source:
        return target.scheme == source[:-1]
    scheme, _, rest = source.rpartition("://")
    if scheme and scheme != target.scheme and not (scheme == "http" and target.scheme == "https"):
        return False
    host_port = rest.split("/", 1)[0]
    host, _, port = host_port.partition(":") if not host_port.startswith("[") else (host_port, "", "")
    if host.startswith("*."):
        host_ok = (target.hostname or "").endswith(host[1:])
    else:
        host_ok = host == (target.hostname or "")
    default = {"http": 80, "https": 443}.get(target.scheme)
    port_ok = port == "*" or (int(port) if port.isdigit() else default) == (target.port or default)
    return host_ok and port_ok


def browser_warnings(headers: Any, site: str, redirect_uri: str) -> list[str]:
    """What would stop a real browser on Luna's consent page, which this script (not a browser) does not hit."""
    warnings: list[str] = []
    csp = headers.get("content-security-policy") or ""
    for directive in csp.split(";"):
        name, *sources = directive.split()
        if name.lower() == "form-action" and not any(csp_source_allows(s, site, redirect_uri) for s in sources):
            warnings.append(
                f"consent page CSP `{directive.strip()}` does not allow the redirect URI's origin: Chromium and "
                f"Safari apply form-action to the redirect that answers the form submission, so they would block "
                f"the 302 to {redirect_uri} after `Allow` (w3c/webappsec-csp#8)"
            )
    if (headers.get("referrer-policy") or "").strip().lower() == "no-referrer":
        warnings.append(
            "consent page is served with Referrer-Policy: no-referrer, so a Fetch-conforming browser sends "
            "`Origin: null` with the consent POST (Fetch, 'append a request Origin header'); "
            "try --consent-origin null to see whether Luna accepts it"
        )
    return warnings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def result_json(result: types.CallToolResult) -> dict[str, Any]:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    return {"isError": bool(result.is_error), "text": "\n".join(texts), "structuredContent": result.structured_content}




def mcp_client(args: argparse.Namespace, http: httpx2.AsyncClient) -> Client:
    return Client(
        streamable_http_client(args.url, http_client=http),
        mode="legacy" if args.protocol == LEGACY else args.protocol,
        read_timeout_seconds=args.timeout,
        cache=None,  # always ask the server
        client_info=types.Implementation(name="luna-oauth-flow-test", version="1.0"),
    )


def leaf_errors(error: BaseException) -> list[BaseException]:
    leaves = [error]
    while any(isinstance(x, BaseExceptionGroup) for x in leaves):
        leaves = [y for x in leaves for y in (x.exceptions if isinstance(x, BaseExceptionGroup) else [x])]
    return leaves


def describe(error: BaseException) -> str:
    return "; ".join(f"{type(x).__name__}: {x}" for x in leaf_errors(error))


async def call_with_bearer(
    args: argparse.Namespace, bearer: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """One tool call in a fresh MCP session that carries a fixed bearer (no OAuth provider, so a 401
    is not answered by a new authorization). Returns (tool result, last MCP HTTP error, exception)."""
    log = RequestLog(args.url)
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=httpx2.Timeout(10.0),
        event_hooks={"response": [log]},
    )
    try:
        async with http:
            async with mcp_client(args, http) as client:
                result = await client.call_tool(args.tool, args.arguments)
                return result_json(result), log.last_mcp_error, None
    except Exception as error:  # noqa: BLE001 - the SDK wraps HTTP failures in various exceptions
        return None, log.last_mcp_error, describe(error)


async def token_request(http: httpx2.AsyncClient, url: str, form: dict[str, str]) -> tuple[int, Any]:
    response = await http.post(url, data=form, headers={"Accept": "application/json"})
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


async def run(args: argparse.Namespace, p: Progress) -> None:
    parts = urlsplit(args.url)
    site = f"{parts.scheme}://{parts.netloc}"
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    storage = InMemoryTokenStorage()
    browser = Browser(p, site, redirect_uri, args.consent_origin)
    provider = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="Luna OAuth test",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )
    log = RequestLog(args.url)
    p.summary["oauth_requests"] = log.entries
    http = httpx2.AsyncClient(
        auth=provider,
        timeout=httpx2.Timeout(30.0, read=300.0),  # the SDK's defaults (create_mcp_http_client)
        event_hooks={"response": [log]},
    )
    try:
        async with http:
            # --- connect: 401 -> discovery -> registration -> browser -> token -> retry ---------
            p.step = "connect"
            async with mcp_client(args, http) as client:
                # 2025-11-25: entering sent initialize, which met the 401 and the OAuth flow.
                # 2026-07-28: entering sends nothing; the first tools/list meets them.
                p.step = "connect" if args.protocol == MODERN else "tools"
                tools = await all_tools(client)
                p.step = "connect"
                ctx = provider.context
                if storage.tokens is None or storage.client_info is None:
                    raise p.fail("connected without OAuth tokens / client registration")
                if browser.authorizations != 1:
                    raise p.fail(f"expected one authorization, saw {browser.authorizations}")
                prm, asm = ctx.protected_resource_metadata, ctx.oauth_metadata
                if prm is None or asm is None:
                    raise p.fail("the SDK holds no protected-resource or authorization-server metadata")
                p.summary["discovered"] = {
                    "resource": str(prm.resource),
                    "authorization_servers": [str(s) for s in prm.authorization_servers],
                    "scopes_supported": prm.scopes_supported,
                    "issuer": str(asm.issuer),
                    "authorization_endpoint": str(asm.authorization_endpoint),
                    "token_endpoint": str(asm.token_endpoint),
                    "registration_endpoint": str(asm.registration_endpoint) if asm.registration_endpoint else None,
                    "revocation_endpoint": str(asm.revocation_endpoint) if asm.revocation_endpoint else None,
                    "code_challenge_methods_supported": asm.code_challenge_methods_supported,
                    "authorization_response_iss_parameter_supported":
                        asm.authorization_response_iss_parameter_supported,
                }
                if str(prm.resource).rstrip("/") != args.url.rstrip("/"):
                    raise p.fail(f"protected resource is {prm.resource}, expected {args.url}")
                if str(asm.issuer) != site:
                    raise p.fail(f"issuer is {asm.issuer}, expected the site root {site}")
                info = storage.client_info
                p.summary["registered_client_id"] = info.client_id
                p.summary["registered_auth_method"] = info.token_endpoint_auth_method
                if info.token_endpoint_auth_method != "none" or info.client_secret is not None:
                    raise p.fail(f"expected a public client (auth method none, no secret), got "
                                 f"{info.token_endpoint_auth_method!r} secret={info.client_secret is not None}")
                first = storage.tokens
                p.summary["token"] = {"token_type": first.token_type, "expires_in": first.expires_in,
                                      "scope": first.scope, "has_refresh_token": bool(first.refresh_token)}
                if not first.refresh_token:
                    raise p.fail("the token response carried no refresh_token")
                if not log.token_requests("authorization_code"):
                    raise p.fail("no authorization_code token request was seen")

                # --- tools ------------------------------------------------------------------
                p.step = "tools"
                names = [t.name for t in tools]
                p.summary["tools"] = names
                if args.tool not in names:
                    raise p.fail(f"tool {args.tool} is not listed: {names}")

                # --- call -------------------------------------------------------------------
                p.step = "call"
                called = result_json(await client.call_tool(args.tool, args.arguments))
                p.summary["call"] = called
                if called["isError"]:
                    raise p.fail(f"the tool call returned an error: {called['text']}")

                # --- refresh: make the stored token look expired, call again ---------------
                p.step = "refresh"
                browser.allow_authorization = False  # a refresh must not need the user again
                refreshes_before = len(log.token_requests("refresh_token"))
                # `OAuthContext.is_token_valid()` compares `token_expiry_time` (set from
                # expires_in when the token arrived) with now; in the past, the provider's
                # auth flow sends a refresh_token grant before the next request.
                ctx.token_expiry_time = time.time() - 1
                again = result_json(await client.call_tool(args.tool, args.arguments))
                p.summary["call_after_refresh"] = again
                refreshes = log.token_requests("refresh_token")[refreshes_before:]
                second = storage.tokens
                p.summary["refresh_requests"] = refreshes
                p.summary["refreshed"] = (
                    bool(refreshes) and refreshes[-1]["status"] == 200 and second is not None
                    and second.access_token != first.access_token
                )
                p.summary["rotated"] = bool(
                    second is not None and second.refresh_token and second.refresh_token != first.refresh_token
                )
                if not p.summary["refreshed"]:
                    new_access = second is not None and second.access_token != first.access_token
                    raise p.fail(f"no successful refresh: token requests {refreshes}, new access token: {new_access}")
                if not p.summary["rotated"]:
                    raise p.fail("the refresh did not rotate the refresh token")
                if again["isError"]:
                    raise p.fail(f"the tool call after the refresh returned an error: {again['text']}")
                assert second is not None and second.refresh_token
            # Session closed here (with the still valid token), before the grant is revoked.

            # --- revoke -----------------------------------------------------------------
            p.step = "revoke"
            revocation = p.summary["discovered"]["revocation_endpoint"]
            if not revocation:
                raise p.fail("the authorization server metadata names no revocation_endpoint")
            async with httpx2.AsyncClient(timeout=httpx2.Timeout(10.0)) as http_plain:
                # RFC 7009 §2.1; a public client identifies itself with client_id.
                status, body = await token_request(http_plain, revocation, {
                    "token": second.refresh_token, "token_type_hint": "refresh_token", "client_id": info.client_id,
                })
                p.summary["revoked"] = status == 200
                if status != 200:
                    raise p.fail(f"revocation answered {status}: {body}")

                # --- after_revoke: the access token dies (poll), the refresh token too ------
                p.step = "after_revoke"
                started = time.monotonic()
                attempts = 0
                seen: dict[str, Any] | None = None
                while True:
                    attempts += 1
                    result, http_error, error = await call_with_bearer(args, second.access_token)
                    if http_error is not None and http_error["status"] == 401:
                        seen = http_error
                        break
                    if result is None and http_error is None:
                        raise p.fail(f"tool call with the revoked grant's access token failed without "
                                     f"an HTTP error: {error}")
                    if http_error is not None:
                        raise p.fail(f"tool call with the revoked grant's access token got HTTP "
                                     f"{http_error['status']} (expected 401): {error}")
                    if time.monotonic() - started > REVOCATION_POLL_LIMIT:
                        break
                    await anyio.sleep(0.2)
                elapsed = round(time.monotonic() - started, 2)
                p.summary["after_revoke_status"] = seen["status"] if seen else 200
                p.summary["after_revoke_seconds"] = elapsed
                p.summary["after_revoke_attempts"] = attempts
                p.summary["after_revoke_www_authenticate"] = seen["www_authenticate"] if seen else None
                if seen is None:
                    raise p.fail(f"the access token still worked {elapsed} s after the revocation")
                if elapsed > REVOCATION_EXPECTED_WITHIN:
                    raise p.fail(f"the access token kept working for {elapsed} s after the revocation "
                                 f"(expected at most ~{REVOCATION_EXPECTED_WITHIN:.0f} s)")
                # The access token from before the refresh belongs to the same grant.
                _, first_error, _ = await call_with_bearer(args, first.access_token)
                p.summary["pre_refresh_access_token_status"] = first_error["status"] if first_error else 200

                status, body = await token_request(
                    http_plain, p.summary["discovered"]["token_endpoint"],
                    {"grant_type": "refresh_token", "refresh_token": second.refresh_token,
                     "client_id": info.client_id},
                )
                error_code = body.get("error") if isinstance(body, dict) else None
                p.summary["refresh_after_revoke"] = error_code or f"HTTP {status}"
                p.summary["refresh_after_revoke_status"] = status
                if error_code != "invalid_grant" or status != 400:
                    raise p.fail(f"refreshing after the revocation answered {status}: {body} "
                                 f"(expected 400 invalid_grant)")
                if p.summary["pre_refresh_access_token_status"] != 401:
                    raise p.fail(f"the pre-refresh access token got {p.summary['pre_refresh_access_token_status']} "
                                 f"after the revocation (expected 401)")
            p.step = "done"
    finally:
        p.summary["authorizations"] = browser.authorizations
        await browser.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the MCP endpoint, e.g. http://127.0.0.1:8800/api/mcp")
    parser.add_argument("--tool", default="HELLO_GET_greeting")
    parser.add_argument("--args", dest="args_json", default='{"name":"OAuth"}', help="tool arguments (JSON object)")
    parser.add_argument("--protocol", choices=[LEGACY, MODERN], default=LEGACY)
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request read timeout (s)")
    parser.add_argument(
        "--consent-origin", choices=["site", "null", "none"], default="site",
        help="the Origin header of the consent POST: the site's origin (with a Referer), `null` (what "
             "Fetch-conforming browsers send for a form POST from a page served with "
             "Referrer-Policy: no-referrer, as Luna's consent page is), or none at all",
    )
    args = parser.parse_args()
    try:
        args.arguments = json.loads(args.args_json)
    except ValueError:
        args.arguments = None
    if not isinstance(args.arguments, dict):
        print(json.dumps({"error": f"--args must be a JSON object, got {args.args_json!r}", "step": "usage"}))
        return 2

    progress = Progress()
    try:
        anyio.run(run, args, progress)
    except Exception as error:  # noqa: BLE001 - anyio task groups may wrap errors in ExceptionGroups
        leaves = leaf_errors(error)
        failed = next((x for x in leaves if isinstance(x, StepFailed)), None)
        # A StepFailed raised inside the SDK's redirect handler may arrive wrapped or chained.
        if failed is None:
            for x in leaves:
                cause: BaseException | None = x
                while cause is not None and not isinstance(cause, StepFailed):
                    cause = cause.__cause__ or cause.__context__
                if isinstance(cause, StepFailed):
                    failed = cause
                    break
        out = {
            "error": str(failed) if failed else describe(error),
            "step": failed.step if failed else progress.step,
            **{k: v for k, v in progress.summary.items() if k not in ("error", "step")},
        }
        print(json.dumps(ordered(out)), flush=True)
        return 1
    print(json.dumps(ordered(progress.summary)), flush=True)
    return 0


def ordered(summary: dict[str, Any]) -> dict[str, Any]:
    rank = {key: index for index, key in enumerate(SUMMARY_ORDER)}
    return dict(sorted(summary.items(), key=lambda item: rank.get(item[0], len(rank))))


if __name__ == "__main__":
    sys.exit(main())
