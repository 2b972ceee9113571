//! Luna as the OAuth authorization server of `/api/mcp`, through the real gateway, with the
//! stand-in GitHub as the identity: the happy path step by step, and the attacks.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::support::browser::{Browser, url_encode};
use crate::support::extension::{FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::{TestLuna, luna_command};
use crate::support::raw_http::{self, RawResponse};
use crate::support::{postgres, wait_until};

/// The test clients' redirect URI (never visited: the tests read the redirect).
const CALLBACK: &str = "http://127.0.0.1:9/callback";
pub const VERIFIER: &str = "correct-horse-battery-staple-correct-horse-battery-staple";

fn ada() -> GithubUser {
    GithubUser { id: 4242, login: "ada".into(), orgs: vec![] }
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn json(response: &RawResponse) -> serde_json::Value {
    serde_json::from_str(&response.body).unwrap_or_else(|_| panic!("not JSON ({}): {}", response.status, response.body))
}

/// Luna with GitHub login (ada allowed) and the `hello` extension; `database` as `[database]`.
fn luna_for_ada(database: Option<&str>) -> (StandInGithub, TestLuna) {
    let github = StandInGithub::start(ada());
    let mut config = github.config("allowed_users = [\"ada\"]");
    if let Some(url) = database {
        config.push_str(&format!("[database]\nurl = \"{url}\"\n"));
    }
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        crate::mcp::add_hello(home);
    });
    luna.wait_running("hello_tools");
    (github, luna)
}

fn register(luna: &TestLuna, redirect_uris: &[&str]) -> RawResponse {
    let body = serde_json::json!({"client_name": "Test <Client>", "redirect_uris": redirect_uris}).to_string();
    raw_http::request_with_body(luna.address, "POST", "/api/register", &[("Content-Type", "application/json")], &body)
}

fn registered_client(luna: &TestLuna) -> String {
    let response = register(luna, &[CALLBACK]);
    assert_eq!(response.status, 201, "{}", response.body);
    json(&response)["client_id"].as_str().unwrap().to_string()
}

fn authorize_path(client_id: &str, redirect_uri: &str, extra: &str) -> String {
    format!(
        "/api/authorize?response_type=code&client_id={}&redirect_uri={}&state=st4te{extra}",
        url_encode(client_id),
        url_encode(redirect_uri)
    )
}

fn with_pkce(client_id: &str) -> String {
    authorize_path(client_id, CALLBACK, &format!("&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER)))
}

/// Follows the browser from `/api/authorize` through the GitHub login (if needed) to the
/// consent page; returns the page.
fn reach_consent(browser: &mut Browser, luna: SocketAddr, path: &str) -> RawResponse {
    let first = browser.get(luna, path);
    if first.status != 302 {
        return first;
    }
    let login = first.header("location").unwrap().to_string();
    assert!(login.starts_with("/auth/login?rd="), "{login}");
    let rd = login.trim_start_matches("/auth/login?rd=");
    let rd = percent_decode(rd);
    let callback = browser.start_login(luna, &rd);
    let back = browser.get(luna, &callback);
    assert_eq!(back.status, 302, "{}", back.body);
    assert_eq!(back.header("location"), Some(rd.as_str()), "the login returns to the authorization request");
    browser.get(luna, &rd)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            out.push(u8::from_str_radix(&text[index + 1..index + 3], 16).unwrap());
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in the page:\n{page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// The consent page answered with `decision`; returns the redirect.
fn decide(browser: &mut Browser, luna: SocketAddr, page: &RawResponse, decision: &str) -> RawResponse {
    let form =
        format!("consent={}&csrf={}&decision={decision}", hidden(&page.body, "consent"), hidden(&page.body, "csrf"));
    browser.post_form(luna, "/api/authorize", &form)
}

/// The query parameters of a redirect to `CALLBACK`.
fn callback_params(response: &RawResponse) -> std::collections::BTreeMap<String, String> {
    assert_eq!(response.status, 302, "{}", response.body);
    let location = response.header("location").unwrap();
    let query =
        location.strip_prefix(&format!("{CALLBACK}?")).unwrap_or_else(|| panic!("not to the client: {location}"));
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), percent_decode(&value.replace('+', " "))))
        .collect()
}

fn token_request(luna: &TestLuna, form: &str) -> RawResponse {
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    raw_http::request_with_body(luna.address, "POST", "/api/token", &headers, form)
}

pub fn exchange(luna: &TestLuna, client_id: &str, code: &str, verifier: &str) -> RawResponse {
    token_request(
        luna,
        &format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={verifier}",
            url_encode(code),
            url_encode(CALLBACK),
            url_encode(client_id)
        ),
    )
}

fn refresh(luna: &TestLuna, client_id: &str, refresh_token: &str) -> RawResponse {
    token_request(
        luna,
        &format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}",
            url_encode(refresh_token),
            url_encode(client_id)
        ),
    )
}

/// Whoever the stand-in GitHub logs in next, who approved a fresh client: (browser, client
/// id, code).
pub fn approved_code(luna: &TestLuna) -> (Browser, String, String) {
    let client_id = registered_client(luna);
    let mut browser = Browser::default();
    let page = reach_consent(&mut browser, luna.address, &with_pkce(&client_id));
    assert_eq!(page.status, 200, "{}", page.body);
    let params = callback_params(&decide(&mut browser, luna.address, &page, "approve"));
    (browser, client_id, params["code"].clone())
}

const LIST_TOOLS: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}"#;

/// A stateless `tools/list` at `/api/mcp` with `token` as the bearer.
fn mcp_with(luna: &TestLuna, token: &str) -> RawResponse {
    let authorization = format!("Bearer {token}");
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/list"),
        ("Authorization", authorization.as_str()),
    ];
    raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, LIST_TOOLS)
}

fn wait_for_refusal(luna: &TestLuna, token: &str) {
    wait_until(Duration::from_secs(10), "the revoked token to be refused", || mcp_with(luna, token).status == 401);
}

#[test]
fn discovery_metadata_is_served_as_json_with_cors_never_by_the_hub() {
    let (_github, luna) = luna_for_ada(None);
    let site = format!("http://{}", luna.address);
    for path in ["/.well-known/oauth-protected-resource/api/mcp", "/.well-known/oauth-protected-resource"] {
        let response = raw_http::get(luna.address, path);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
        let document = json(&response);
        assert_eq!(document["resource"], format!("{site}/api/mcp"));
        assert_eq!(document["authorization_servers"], serde_json::json!([site]));
    }
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/api/mcp",
        "/.well-known/openid-configuration",
        "/api/mcp/.well-known/openid-configuration",
    ] {
        let response = raw_http::get(luna.address, path);
        assert_eq!(response.status, 200, "{path}: {}", response.body);
        let document = json(&response);
        assert_eq!(document["issuer"], site);
        assert_eq!(document["authorization_endpoint"], format!("{site}/api/authorize"));
        assert_eq!(document["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(document["authorization_response_iss_parameter_supported"], true);
    }
    let unknown = raw_http::get(luna.address, "/.well-known/oauth-nothing");
    assert_ne!(unknown.status, 200, "never the Hub page: {}", unknown.body);

    // The endpoint says where to start.
    let headers = [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")];
    let anonymous = raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, LIST_TOOLS);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(format!(r#"Bearer resource_metadata="{site}/.well-known/oauth-protected-resource/api/mcp""#).as_str())
    );
}

#[test]
fn login_consent_code_token_refresh_and_revocation() {
    let (github, luna) = luna_for_ada(None);
    let client_id = registered_client(&luna);
    let mut browser = Browser::default();

    let page = reach_consent(&mut browser, luna.address, &with_pkce(&client_id));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(github.token_requests(), ["ok"], "ada logged in with GitHub on the way");
    assert!(page.body.contains("Test &lt;Client&gt;"), "the client's name, escaped: {}", page.body);
    assert!(page.body.contains("@ada") && page.body.contains("<strong>127.0.0.1</strong>"), "{}", page.body);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "the consent page cannot be framed: {csp}");
    // Browsers must still send a real Origin with the form (no-referrer would make it `null`),
    // and may follow the redirect to the client (form-action would block it in Chromium).
    assert_ne!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(!csp.contains("form-action"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));

    // A forged decision (wrong CSRF token) is refused and does not use the consent up.
    let forged = format!("consent={}&csrf=forged&decision=approve", hidden(&page.body, "consent"));
    assert_eq!(browser.post_form(luna.address, "/api/authorize", &forged).status, 403);
    let params = callback_params(&decide(&mut browser, luna.address, &page, "approve"));
    // A decision is made once.
    assert_eq!(decide(&mut browser, luna.address, &page, "approve").status, 400);
    assert_eq!(params["state"], "st4te");
    assert_eq!(params["iss"], format!("http://{}", luna.address), "RFC 9207 iss");

    let tokens = exchange(&luna, &client_id, &params["code"], VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let tokens = json(&tokens);
    assert_eq!((tokens["token_type"].as_str(), tokens["expires_in"].as_u64()), (Some("Bearer"), Some(3600)));
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let listed = mcp_with(&luna, &access);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert!(listed.body.contains("HELLO_GET_greeting"), "{}", listed.body);

    // Rotation: a refresh gives new tokens; the old refresh token is then dead.
    let rotated = refresh(&luna, &client_id, &first_refresh);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated = json(&rotated);
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_refresh, first_refresh);
    let second_access = rotated["access_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_with(&luna, &second_access).status, 200);

    // Connected clients: the API and the CLI list it; revoking it ends its tokens.
    let grants = luna.get_json("/api/supervisor/oauth/clients");
    assert_eq!(grants.as_array().unwrap().len(), 1, "{grants}");
    assert_eq!((grants[0]["login"].as_str(), grants[0]["client_id"].as_str()), (Some("ada"), Some(client_id.as_str())));
    let cli = luna_command(luna.path()).args(["clients", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&cli.stdout).contains("Test <Client>"), "{}", String::from_utf8_lossy(&cli.stdout));
    let revoke = |client: &str| {
        let form = format!("token={}&client_id={}", url_encode(&second_refresh), url_encode(client));
        let headers = [("Content-Type", "application/x-www-form-urlencoded")];
        raw_http::request_with_body(luna.address, "POST", "/api/revoke", &headers, &form)
    };
    // Another client cannot revoke it (it looks like an unknown token to them) ...
    let stranger = registered_client(&luna);
    assert_eq!(revoke(&stranger).status, 200);
    assert_eq!(mcp_with(&luna, &second_access).status, 200);
    // ... its own client can.
    assert_eq!(revoke(&client_id).status, 200);
    wait_for_refusal(&luna, &second_access);
    assert_eq!(json(&refresh(&luna, &client_id, &second_refresh))["error"], "invalid_grant");
    assert_eq!(luna.get_json("/api/supervisor/oauth/clients"), serde_json::json!([]));
}

#[test]
fn redirect_uri_and_client_errors_are_shown_never_redirected() {
    let (_github, luna) = luna_for_ada(None);
    let client_id = registered_client(&luna);
    let pkce = format!("&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER));
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    for (what, path) in [
        ("unregistered redirect", authorize_path(&client_id, "https://evil.example/callback", &pkce)),
        ("altered path", authorize_path(&client_id, "http://127.0.0.1:9/callback/../evil", &pkce)),
        ("altered host", authorize_path(&client_id, "http://127.0.0.2:9/callback", &pkce)),
        ("unknown client", authorize_path("luna-not-registered", CALLBACK, &pkce)),
        ("metadata document on a private address", authorize_path("https://127.0.0.1/client.json", CALLBACK, &pkce)),
    ] {
        let response = browser.get(luna.address, &path);
        assert_eq!(response.status, 400, "{what}: {}", response.body);
        assert_eq!(response.header("location"), None, "{what}: never redirected");
        assert!(response.body.contains("cannot continue"), "{what}: {}", response.body);
    }
    let ssrf = browser.get(luna.address, &authorize_path("https://127.0.0.1/client.json", CALLBACK, &pkce));
    assert!(ssrf.body.contains("not a public address"), "{}", ssrf.body);

    // Protocol errors go back only to a client this user has approved and connected before.
    let bad_requests =
        [("no PKCE", String::new()), ("plain PKCE", format!("&code_challenge={VERIFIER}&code_challenge_method=plain"))];
    for (what, extra) in &bad_requests {
        let response = browser.get(luna.address, &authorize_path(&client_id, CALLBACK, extra));
        assert_eq!(response.status, 400, "{what}: {}", response.body);
        assert_eq!(response.header("location"), None, "{what}: not approved before, so never redirected");
        assert!(response.body.contains("code_challenge"), "{what}: {}", response.body);
    }
    let page = reach_consent(&mut browser, luna.address, &with_pkce(&client_id));
    let code = callback_params(&decide(&mut browser, luna.address, &page, "approve"))["code"].clone();
    assert_eq!(exchange(&luna, &client_id, &code, VERIFIER).status, 200);
    for (what, extra) in &bad_requests {
        let response = browser.get(luna.address, &authorize_path(&client_id, CALLBACK, extra));
        let params = callback_params(&response);
        assert_eq!(params["error"], "invalid_request", "{what}");
        assert_eq!(params["state"], "st4te");
    }
}

/// RFC 9700 §4.11.2: registering a client is free, so a redirect to its URI before a user
/// has trusted it would make Luna an open redirector.
#[test]
fn authorize_is_not_an_open_redirector() {
    let (_github, luna) = luna_for_ada(None);
    let evil = "https://evil.example/landing";
    let client_id = json(&register(&luna, &[evil]))["client_id"].as_str().unwrap().to_string();
    let broken = authorize_path(&client_id, evil, "");

    // Nobody logged in: to Luna's login, never to the client.
    let anonymous = raw_http::request(luna.address, "GET", &broken, &[("Accept", "text/html")]);
    assert_eq!(anonymous.status, 302, "{}", anonymous.body);
    let location = anonymous.header("location").unwrap();
    assert!(location.starts_with("/auth/login?"), "{location}");

    // Logged in, the client never approved: Luna's page.
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    let shown = browser.get(luna.address, &broken);
    assert_eq!((shown.status, shown.header("location")), (400, None), "{}", shown.body);
    assert!(!shown.body.contains("evil.example"), "{}", shown.body);

    // Denying on the consent page: told on Luna's page, with the way back as a link only.
    let pkce = format!("&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER));
    let page = reach_consent(&mut browser, luna.address, &authorize_path(&client_id, evil, &pkce));
    assert_eq!(page.status, 200, "{}", page.body);
    let denied = decide(&mut browser, luna.address, &page, "deny");
    assert_eq!((denied.status, denied.header("location")), (200, None), "{}", denied.body);
    assert!(denied.body.contains("href=\"https://evil.example/landing?error=access_denied"), "{}", denied.body);
}

#[test]
fn codes_are_single_use_and_bound_to_the_verifier() {
    let (_github, luna) = luna_for_ada(None);

    let (_browser, client_id, code) = approved_code(&luna);
    let wrong = exchange(&luna, &client_id, &code, "the-wrong-verifier-the-wrong-verifier-the-wrong-verifier");
    assert_eq!((wrong.status, json(&wrong)["error"].clone()), (400, serde_json::json!("invalid_grant")));

    let (_browser, client_id, code) = approved_code(&luna);
    let first = exchange(&luna, &client_id, &code, VERIFIER);
    assert_eq!(first.status, 200, "{}", first.body);
    let access = json(&first)["access_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_with(&luna, &access).status, 200);
    let replay = exchange(&luna, &client_id, &code, VERIFIER);
    assert_eq!(json(&replay)["error"], "invalid_grant");
    // Whoever replays a code may have stolen it: what the first exchange got is revoked too.
    wait_for_refusal(&luna, &access);

    let (_browser, _client_id, code) = approved_code(&luna);
    let other_client = registered_client(&luna);
    assert_eq!(json(&exchange(&luna, &other_client, &code, VERIFIER))["error"], "invalid_grant");
}

#[test]
fn a_replayed_refresh_token_revokes_the_grant() {
    let (_github, luna) = luna_for_ada(None);
    let (_browser, client_id, code) = approved_code(&luna);
    let tokens = json(&exchange(&luna, &client_id, &code, VERIFIER));
    let old_refresh = tokens["refresh_token"].as_str().unwrap();
    let rotated = json(&refresh(&luna, &client_id, old_refresh));
    let new_refresh = rotated["refresh_token"].as_str().unwrap();
    let new_access = rotated["access_token"].as_str().unwrap();
    assert_eq!(mcp_with(&luna, new_access).status, 200);

    assert_eq!(json(&refresh(&luna, &client_id, old_refresh))["error"], "invalid_grant");
    assert_eq!(json(&refresh(&luna, &client_id, new_refresh))["error"], "invalid_grant", "the family is revoked");
    wait_for_refusal(&luna, new_access);
}

/// Signs claims with the home's own Ed25519 key, as only Luna could.
fn sign(home: &Path, header_typ: &str, claims: serde_json::Value) -> String {
    let der = std::fs::read(home.join(".luna/identity_ed25519.der")).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some(header_typ.to_string());
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ed_der(&der)).unwrap()
}

#[test]
fn tokens_for_another_audience_expired_foreign_or_scopeless_are_refused() {
    let (_github, luna) = luna_for_ada(None);
    let (_browser, client_id, code) = approved_code(&luna);
    let tokens = json(&exchange(&luna, &client_id, &code, VERIFIER));
    let good: serde_json::Value = {
        let payload = tokens["access_token"].as_str().unwrap().split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let now = luna::clock::unix_now();
    let with = |key: &str, value: serde_json::Value| {
        let mut claims = good.clone();
        claims[key] = value;
        claims
    };
    assert_eq!(mcp_with(&luna, &sign(luna.path(), "at+jwt", good.clone())).status, 200, "the control case");
    for (what, token) in [
        ("another audience", sign(luna.path(), "at+jwt", with("aud", "https://other.example/api/mcp".into()))),
        ("another issuer", sign(luna.path(), "at+jwt", with("iss", "https://other.example".into()))),
        ("expired", sign(luna.path(), "at+jwt", with("exp", (now - 60).into()))),
        ("an identity token", sign(luna.path(), "JWT", good.clone())),
        ("a GitHub token", "gho_16C7e42F292c6912E7710c838347Ae178B4a".to_string()),
        ("an unknown grant", sign(luna.path(), "at+jwt", with("gid", "no-such-grant".into()))),
    ] {
        let response = mcp_with(&luna, &token);
        assert_eq!(response.status, 401, "{what}: {}", response.body);
        assert!(response.header("www-authenticate").unwrap().contains(r#"error="invalid_token""#), "{what}");
    }
    let scopeless = mcp_with(&luna, &sign(luna.path(), "at+jwt", with("scope", "profile".into())));
    assert_eq!(scopeless.status, 403);
    assert!(scopeless.header("www-authenticate").unwrap().contains(r#"error="insufficient_scope""#));
}

#[test]
fn registration_is_checked_and_rate_limited() {
    let (_github, luna) = luna_for_ada(None);
    for (uris, error) in [
        (vec![], "invalid_redirect_uri"),
        (vec!["http://evil.example/cb"], "invalid_redirect_uri"),
        (vec!["javascript:alert(1)"], "invalid_redirect_uri"),
    ] {
        let response = register(&luna, &uris);
        assert_eq!((response.status, json(&response)["error"].clone()), (400, serde_json::json!(error)), "{uris:?}");
    }
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(register(&luna, &[CALLBACK]).status);
    }
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        7,
        "10 per minute, 3 used above: {statuses:?}"
    );
    let limited = register(&luna, &[CALLBACK]);
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
}

#[test]
fn on_postgres_only_hashes_of_codes_and_refresh_tokens_are_stored() {
    let database = postgres::fresh_database();
    let (_github, luna) = luna_for_ada(Some(&database));
    let (_browser, client_id, code) = approved_code(&luna);
    let count_with = |table: &str, column: &str, secret: &str| {
        postgres::count(&database, &format!("SELECT COUNT(*) FROM {table} WHERE {column} = '{secret}'"))
    };
    assert_eq!(count_with("oauth_codes", "code_hash", &code), 0, "the code itself is not stored");
    assert_eq!(postgres::count(&database, "SELECT COUNT(*) FROM oauth_codes"), 1);
    let tokens = json(&exchange(&luna, &client_id, &code, VERIFIER));
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(count_with("oauth_refresh_tokens", "token_hash", refresh_token), 0);
    assert_eq!(postgres::count(&database, "SELECT COUNT(*) FROM oauth_refresh_tokens"), 1);
    let rotated = refresh(&luna, &client_id, refresh_token);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(mcp_with(&luna, json(&rotated)["access_token"].as_str().unwrap()).status, 200);
}

fn mcp_post(luna: &TestLuna, token: &str, session: Option<&str>, body: &str) -> RawResponse {
    let authorization = format!("Bearer {token}");
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("Authorization", authorization.as_str()),
    ];
    if let Some(session) = session {
        headers.push(("Mcp-Session-Id", session));
        headers.push(("MCP-Protocol-Version", "2025-11-25"));
    }
    raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, body)
}

fn mcp_session_request(
    luna: &TestLuna,
    method: &str,
    token: &str,
    session: &str,
    extra: &[(&str, &str)],
) -> RawResponse {
    let authorization = format!("Bearer {token}");
    let mut headers = vec![
        ("Accept", "text/event-stream"),
        ("Authorization", authorization.as_str()),
        ("Mcp-Session-Id", session),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    headers.extend_from_slice(extra);
    raw_http::request(luna.address, method, "/api/mcp", &headers)
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// Opens an initialized 2025-11-25 session with `token`; returns its id.
fn open_session(luna: &TestLuna, token: &str) -> String {
    let opened = mcp_post(luna, token, None, INITIALIZE);
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = opened.header("mcp-session-id").unwrap().to_string();
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(mcp_post(luna, token, Some(&session), initialized).status, 202);
    session
}

#[test]
fn an_mcp_session_belongs_to_whoever_opened_it() {
    let (_github, luna) = luna_for_ada(None);
    let (_browser, client_id, code) = approved_code(&luna);
    let ada_token = json(&exchange(&luna, &client_id, &code, VERIFIER))["access_token"].as_str().unwrap().to_string();
    let owner_token = String::from_utf8(luna_command(luna.path()).arg("token").output().unwrap().stdout).unwrap();
    let owner_token = owner_token.trim();
    let session = open_session(&luna, &ada_token);

    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let own = mcp_post(&luna, &ada_token, Some(&session), list);
    assert!(own.body.contains("HELLO_GET_greeting"), "{}", own.body);

    // Someone else with the session id gets what a session that does not exist gets, for
    // every method: no answers, no notification stream, no replay, no ending it.
    let hijack = mcp_post(&luna, owner_token, Some(&session), list);
    assert_eq!(hijack.status, 404, "{}", hijack.body);
    assert!(!hijack.body.contains("HELLO_GET"), "{}", hijack.body);
    assert_eq!(mcp_session_request(&luna, "GET", owner_token, &session, &[]).status, 404, "the GET stream");
    let replay = mcp_session_request(&luna, "GET", owner_token, &session, &[("Last-Event-ID", "0")]);
    assert_eq!(replay.status, 404, "a resumed stream: {}", replay.body);
    assert_eq!(mcp_session_request(&luna, "DELETE", owner_token, &session, &[]).status, 404, "DELETE");

    // The session is untouched for its owner, who alone can end it.
    assert!(mcp_post(&luna, &ada_token, Some(&session), list).body.contains("HELLO_GET_greeting"));
    assert_eq!(mcp_session_request(&luna, "DELETE", &ada_token, &session, &[]).status, 204);
    assert_eq!(mcp_post(&luna, &ada_token, Some(&session), list).status, 404, "ended");
}

#[test]
fn mcp_sessions_are_capped_per_principal_closing_the_one_idle_longest() {
    let (_github, luna) = luna_for_ada(None);
    let owner_token = String::from_utf8(luna_command(luna.path()).arg("token").output().unwrap().stdout).unwrap();
    let owner_token = owner_token.trim();
    let (_browser, client_id, code) = approved_code(&luna);
    let ada_token = json(&exchange(&luna, &client_id, &code, VERIFIER))["access_token"].as_str().unwrap().to_string();
    let ada_session = open_session(&luna, &ada_token);

    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let sessions: Vec<String> = (0..32).map(|_| open_session(&luna, owner_token)).collect();
    // The first is used again, so the second is now the one idle longest.
    assert_eq!(mcp_post(&luna, owner_token, Some(&sessions[0]), list).status, 200);
    let one_more = open_session(&luna, owner_token);

    assert_eq!(mcp_post(&luna, owner_token, Some(&sessions[1]), list).status, 404, "closed: idle longest");
    for session in [&sessions[0], &sessions[2], &sessions[31], &one_more] {
        assert_eq!(mcp_post(&luna, owner_token, Some(session), list).status, 200);
    }
    assert_eq!(mcp_post(&luna, &ada_token, Some(&ada_session), list).status, 200, "another principal's cap");
}

#[test]
fn the_python_sdk_connects_over_oauth_refreshes_and_is_revoked() {
    let (github, luna) = luna_for_ada(None);
    let url = format!("http://{}/api/mcp", luna.address);
    for protocol in crate::support::mcp::PROTOCOLS {
        let output = std::process::Command::new(crate::support::mcp::python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_clients/oauth_flow.py"))
            .args(["--url", &url, "--protocol", protocol])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary: serde_json::Value =
            stdout.lines().last().and_then(|line| serde_json::from_str(line).ok()).unwrap_or_else(|| {
                panic!("{protocol}: no summary\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr))
            });
        assert!(output.status.success(), "{protocol}: {summary:#}");
        assert_eq!(summary["discovered"]["issuer"], format!("http://{}", luna.address), "{protocol}");
        assert_eq!(summary["consent_seen"], true);
        assert_eq!(summary["iss_ok"], true);
        assert_eq!(summary["browser_warnings"], serde_json::json!([]), "{protocol}: {summary:#}");
        assert_eq!(summary["call"]["isError"], false, "{protocol}: {summary:#}");
        assert_eq!((summary["refreshed"].clone(), summary["rotated"].clone()), (true.into(), true.into()));
        assert_eq!(summary["after_revoke_status"], 401);
        assert_eq!(summary["refresh_after_revoke"], "invalid_grant");
    }
    assert_eq!(github.token_requests(), ["ok", "ok"], "one GitHub login per run");
}

/// Chromium, driven by `tests/browser/consent.mjs`: the login and consent as a person does
/// them (a real Origin on the form, the redirect to the client not blocked), the consent
/// page refused inside frames, and the Hub's Disconnect button.
#[test]
fn in_chromium_allow_reaches_the_client_framing_is_refused_and_the_hub_disconnects() {
    use std::io::BufRead;
    let chromium = std::env::var("LUNA_TEST_CHROMIUM").expect(
        "LUNA_TEST_CHROMIUM is not set: run the tests with scripts/test.sh, or eval \"$(scripts/test-clients.sh)\"",
    );
    let (_github, luna) = luna_for_ada(None);
    let callback = format!("http://127.0.0.1:{}/callback", crate::support::free_port());
    let client_id = json(&register(&luna, &[&callback]))["client_id"].as_str().unwrap().to_string();
    let authorize = authorize_path(
        &client_id,
        &callback,
        &format!("&code_challenge={}&code_challenge_method=S256", challenge(VERIFIER)),
    );
    let exchanged = luna.path().join("exchanged");
    let mut script = std::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/consent.mjs"))
        .args(["--luna", &format!("http://{}", luna.address), "--authorize", &authorize])
        .args(["--callback-prefix", &callback, "--chromium", &chromium])
        .arg("--hub-after-exchange-file")
        .arg(&exchanged)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("run node");
    let mut lines = std::io::BufReader::new(script.stdout.take().unwrap()).lines().map_while(Result::ok);
    let reached: serde_json::Value = lines
        .by_ref()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .find(|event| event["event"] == "callback")
        .expect("the browser never reached the client's callback");
    assert_eq!(reached["state"], "st4te");
    assert_eq!(reached["iss"], format!("http://{}", luna.address));

    // The client swaps the code, then the person disconnects it in the Hub.
    let form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&code_verifier={VERIFIER}",
        url_encode(reached["code"].as_str().unwrap()),
        url_encode(&callback),
        url_encode(&client_id)
    );
    let tokens = token_request(&luna, &form);
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let access = json(&tokens)["access_token"].as_str().unwrap().to_string();
    std::fs::write(&exchanged, "").unwrap();

    let summary: serde_json::Value =
        lines.filter_map(|line| serde_json::from_str(&line).ok()).last().expect("the script printed no summary");
    assert!(script.wait().unwrap().success(), "{summary:#}");
    assert_eq!(summary["consent_status"], 200, "{summary:#}");
    assert_eq!(summary["framed_blocked"], true, "{summary:#}");
    let before = summary["hub_rows_before"].to_string();
    assert!(before.contains("Test <Client>") && before.contains("@ada"), "shown as text, not markup: {before}");
    assert_eq!(summary["hub_rows_after"], serde_json::json!(["None yet."]), "{summary:#}");
    wait_for_refusal(&luna, &access);
}

/// `auth.allowed_users` with `allowed` (and the stand-in GitHub), for a restart.
fn allow_only(github: &StandInGithub, allowed: &str) -> impl FnOnce(&Path) {
    let config = github.config(&format!("allowed_users = [\"{allowed}\"]"));
    move |home: &Path| write_config_with(home, FAST_SUPERVISION, &config)
}

#[test]
fn a_user_taken_off_the_allow_list_loses_every_grant() {
    let (github, luna) = luna_for_ada(None);
    let (_browser, client_id, code) = approved_code(&luna);
    let tokens = json(&exchange(&luna, &client_id, &code, VERIFIER));
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_with(&luna, &access).status, 200, "the control case");
    // An approval whose code the client has not swapped yet.
    let (_browser, pending_client, pending_code) = approved_code(&luna);

    let luna = luna.restart_with(allow_only(&github, "grace"));

    assert_eq!(mcp_with(&luna, &access).status, 401, "the access token is dead");
    assert_eq!(json(&refresh(&luna, &client_id, &refresh_token))["error"], "invalid_grant", "no refresh");
    assert_eq!(json(&exchange(&luna, &pending_client, &pending_code, VERIFIER))["error"], "invalid_grant");
    assert_eq!(luna.get_json("/api/supervisor/oauth/clients"), serde_json::json!([]), "disconnected");
    assert!(luna.log().contains("disconnected the MCP clients of users no longer admitted"), "{}", luna.log());
}

#[test]
fn the_local_owners_grants_end_when_github_login_is_turned_on() {
    let github = StandInGithub::start(ada());
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        crate::mcp::add_hello(home);
    });
    // Open local mode: the owner approves without a login.
    let client_id = registered_client(&luna);
    let mut browser = Browser::default();
    let page = browser.get(luna.address, &with_pkce(&client_id));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("@owner"), "{}", page.body);
    let code = callback_params(&decide(&mut browser, luna.address, &page, "approve"))["code"].clone();
    let tokens = json(&exchange(&luna, &client_id, &code, VERIFIER));
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_with(&luna, &access).status, 200, "the control case");

    let luna = luna.restart_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        allow_only(&github, "ada")(home);
    });

    assert_eq!(mcp_with(&luna, &access).status, 401, "the owner of an open Luna is nobody on GitHub");
    assert_eq!(json(&refresh(&luna, &client_id, &refresh_token))["error"], "invalid_grant");
}

#[test]
fn unused_registrations_are_capped_per_address_and_small() {
    let database = postgres::fresh_database();
    let (_github, luna) = luna_for_ada(Some(&database));
    // Nineteen registrations from this address that nobody used yet.
    let now = luna::clock::unix_now();
    for n in 0..19 {
        postgres::execute(
            &database,
            &format!(
                "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, created_at, registered_from) \
                 VALUES ('waiting-{n}', NULL, '[\"{CALLBACK}\"]', {now}, '127.0.0.1')"
            ),
        );
    }
    assert_eq!(register(&luna, &[CALLBACK]).status, 201, "the twentieth");
    let refused = register(&luna, &[CALLBACK]);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(json(&refused)["error_description"].as_str().unwrap().contains("not been used yet"));

    let body = serde_json::json!({"redirect_uris": [CALLBACK]}).to_string();
    let headers = [("Content-Type", "application/json")];
    let elsewhere = "127.0.0.2".parse().unwrap();
    let other = raw_http::request_from(elsewhere, luna.address, "POST", "/api/register", &headers, &body);
    assert_eq!(other.status, 201, "another address has its own count: {}", other.body);

    let padded = serde_json::json!({"redirect_uris": [CALLBACK], "client_name": "x".repeat(10_000)}).to_string();
    let large = raw_http::request_from(elsewhere, luna.address, "POST", "/api/register", &headers, &padded);
    assert_eq!(large.status, 413, "{}", large.body);
    assert_eq!(postgres::count(&database, "SELECT COUNT(*) FROM oauth_clients"), 21, "nothing else was stored");

    // A flood from many addresses fills the store: the oldest unused registration makes room,
    // and a newcomer still registers.
    postgres::execute(
        &database,
        &format!(
            "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, created_at, registered_from) \
             SELECT 'flood-' || n, NULL, '[]', {} + n, '10.0.' || (n / 250) || '.' || (n % 250) \
             FROM generate_series(1, 1979) AS n",
            now - 10_000
        ),
    );
    let newcomer =
        raw_http::request_from("127.0.0.3".parse().unwrap(), luna.address, "POST", "/api/register", &headers, &body);
    assert_eq!(newcomer.status, 201, "{}", newcomer.body);
    assert_eq!(postgres::count(&database, "SELECT COUNT(*) FROM oauth_clients"), 2000);
    assert_eq!(postgres::count(&database, "SELECT COUNT(*) FROM oauth_clients WHERE client_id = 'flood-1'"), 0);
}

#[test]
fn a_grant_resting_on_organization_membership_lasts_as_long_as_a_session_may() {
    let database = postgres::fresh_database();
    let github = StandInGithub::start(GithubUser { id: 7, login: "grace".into(), orgs: vec!["lunatics".into()] });
    let config = format!(
        "{}[database]\nurl = \"{database}\"\n",
        github.config("allowed_users = [\"ada\"]\nallowed_orgs = [\"lunatics\"]")
    );
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
    });
    let (_browser, client_id, code) = approved_code(&luna);
    let tokens = json(&exchange(&luna, &client_id, &code, VERIFIER));
    let rotated = json(&refresh(&luna, &client_id, tokens["refresh_token"].as_str().unwrap()));
    let refresh_token = rotated["refresh_token"].as_str().expect("a member refreshes").to_string();

    // 31 days later (sessions last 30 at most), membership read at login is too old to trust.
    let month_ago = luna::clock::unix_now() - 31 * 24 * 3600;
    postgres::execute(&database, &format!("UPDATE oauth_grants SET created_at = {month_ago}"));

    assert_eq!(json(&refresh(&luna, &client_id, &refresh_token))["error"], "invalid_grant");
}

#[test]
fn revocation_is_rate_limited_and_a_flood_locks_nobody_out() {
    let (_github, luna) = luna_for_ada(None);
    let address = luna.address;
    let flood: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let headers = [("Content-Type", "application/x-www-form-urlencoded")];
                (0..100)
                    .map(|_| {
                        let form = "token=not-a-token&client_id=luna-nobody";
                        raw_http::request_with_body(address, "POST", "/api/revoke", &headers, form).status
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();

    // Meanwhile someone logs in and uses the Hub.
    let mut browser = Browser::default();
    assert_eq!(browser.login(luna.address, "/").status, 302);
    for _ in 0..20 {
        let status = browser.request(luna.address, "GET", "/api/supervisor/status", &[]);
        assert_eq!(status.status, 200, "{}", status.body);
    }

    let statuses: Vec<u16> = flood.into_iter().flat_map(|thread| thread.join().unwrap()).collect();
    let served = statuses.iter().filter(|status| **status == 200).count();
    assert!((30..=35).contains(&served), "30 a minute from one address (plus refills): {served}");
    assert!(statuses.iter().all(|status| matches!(status, 200 | 429)), "{statuses:?}");
}

/// The official MCP TypeScript SDK as the OAuth client (`tests/mcp_clients/oauth_flow.mjs`),
/// registering with a name and without one (the SDK's default when the application sets none).
#[test]
fn the_typescript_sdk_connects_over_oauth_with_or_without_a_client_name() {
    let (github, luna) = luna_for_ada(None);
    let url = format!("http://{}/api/mcp", luna.address);
    for name in [Some("Luna TS test"), None] {
        let mut command = std::process::Command::new("node");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_clients/oauth_flow.mjs"))
            .args(["--url", &url]);
        if let Some(name) = name {
            command.args(["--client-name", name]);
        }
        let output = command.output().expect("run node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary: serde_json::Value =
            stdout.lines().last().and_then(|line| serde_json::from_str(line).ok()).unwrap_or_else(|| {
                panic!("{name:?}: no summary\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr))
            });
        assert!(output.status.success(), "{name:?}: {summary:#}");
        let registered = summary["registered"].as_object().unwrap();
        assert_eq!(registered.get("client_name").and_then(|name| name.as_str()), name, "{summary:#}");
        let consent = summary["consent_text"].as_str().unwrap();
        match name {
            Some(name) => assert!(consent.contains(&format!("“{name}”")), "{consent}"),
            None => assert!(consent.contains("An application that gave no name , at 127.0.0.1"), "{consent}"),
        }
        assert_eq!((summary["iss_ok"].clone(), summary["state_ok"].clone()), (true.into(), true.into()));
        assert_eq!(summary["tools"], serde_json::json!(["HELLO_GET_greeting"]), "{summary:#}");
        assert_eq!(summary["call"]["isError"], false, "{summary:#}");
        assert_eq!((summary["refreshed"].clone(), summary["rotated"].clone()), (true.into(), true.into()));
        assert_eq!(summary["call_after_refresh"]["isError"], false, "{summary:#}");
        assert_eq!(summary["revoke_status"], 200);
        assert_eq!(summary["after_revoke_status"], 401);
        assert_eq!(summary["refresh_after_revoke"], "invalid_grant");
    }
    assert_eq!(github.token_requests(), ["ok", "ok"], "one GitHub login per run");
}
