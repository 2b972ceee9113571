//! GitHub login through the real gateway, against the stand-in GitHub.

use std::path::Path;
use std::time::Duration;

use crate::support::browser::Browser;
use crate::support::extension::{API_SERVICE, ExtensionFixture, FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::{TestLuna, luna_command, serve_expecting_refusal};
use crate::support::raw_http;

fn ada() -> GithubUser {
    GithubUser { id: 4242, login: "ada".into(), orgs: vec![] }
}

/// Luna with the stand-in GitHub as its identity provider, `allowed` as `[auth]` lines.
fn luna_with(github: &StandInGithub, allowed: &str, more: impl FnOnce(&Path)) -> TestLuna {
    let config = github.config(allowed);
    TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        more(home);
    })
}

/// Luna where ada may log in, and the stand-in GitHub behind it.
fn luna_for_ada(more: impl FnOnce(&Path)) -> (StandInGithub, TestLuna) {
    let github = StandInGithub::start(ada());
    let luna = luna_with(&github, "allowed_users = [\"ada\"]", more);
    (github, luna)
}

/// ada logged in, with the `alpha` extension's API running behind the gateway.
fn ada_at_alpha() -> (StandInGithub, TestLuna, Browser) {
    let (github, luna) = luna_for_ada(|home| {
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "service.py");
    });
    luna.wait_running("alpha.api");
    let mut browser = Browser::default();
    assert_eq!(browser.login(luna.address, "/").status, 302);
    (github, luna, browser)
}

fn json(response: &raw_http::RawResponse) -> serde_json::Value {
    serde_json::from_str(&response.body).unwrap_or_else(|_| panic!("not JSON ({}): {}", response.status, response.body))
}

#[test]
fn a_full_login_opens_the_hub_and_api() {
    let github = StandInGithub::start(ada());
    let luna = luna_with(&github, "allowed_users = [\"ADA\"]", |_| {});
    let mut browser = Browser::default();

    let hub = browser.get(luna.address, "/extensions?tab=tools");
    assert_eq!(hub.status, 302, "browsers are sent to the login");
    assert_eq!(hub.header("location"), Some("/auth/login?rd=%2Fextensions%3Ftab%3Dtools"));
    let xhr = raw_http::request(luna.address, "GET", "/api/supervisor/status", &[("Accept", "application/json")]);
    assert_eq!(xhr.status, 401);
    assert_eq!(json(&xhr)["error"], "unauthenticated");

    let callback = browser.login(luna.address, "/extensions?tab=tools");

    assert_eq!(callback.status, 302, "{}", callback.body);
    assert_eq!(callback.header("location"), Some("/extensions?tab=tools"));
    let set_cookie = callback.headers("set-cookie").into_iter().find(|c| c.starts_with("luna_session=")).unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && set_cookie.contains("Path=/"));
    assert!(!set_cookie.contains("Secure"), "plain HTTP in local mode: {set_cookie}");
    assert_eq!(github.token_requests(), ["ok"], "one code exchange, PKCE verified by the stand-in");

    assert_eq!(browser.get(luna.address, "/").status, 200);
    let me = json(&browser.request(luna.address, "GET", "/auth/me", &[]));
    assert_eq!((me["login"].as_str(), me["id"].as_i64()), (Some("ada"), Some(4242)));
    let status = browser.request(luna.address, "GET", "/api/supervisor/status", &[("Accept", "application/json")]);
    assert_eq!(status.status, 200);
    // The public routes stay public.
    assert_eq!(raw_http::get(luna.address, "/healthz").status, 200);
    assert_eq!(json(&raw_http::get(luna.address, "/.well-known/jwks.json"))["keys"][0]["crv"], "Ed25519");
    assert_eq!(raw_http::get(luna.address, "/auth/me").status, 401);
}

#[test]
fn a_missing_or_mismatched_state_is_refused() {
    let (github, luna) = luna_for_ada(|_| {});

    let mut browser = Browser::default();
    let callback = browser.start_login(luna.address, "/");
    let mut stranger = Browser::default();
    let without_cookie = stranger.get(luna.address, &callback);
    assert_eq!(without_cookie.status, 400, "a callback without the login cookie (another browser)");
    assert!(stranger.cookie("luna_session").is_none());

    let forged = callback.replace("state=", "state=x");
    let mismatched = browser.get(luna.address, &forged);
    assert_eq!(mismatched.status, 400);
    assert!(mismatched.body.contains("state mismatch"), "{}", mismatched.body);
    assert!(browser.cookie("luna_session").is_none());
    assert!(github.token_requests().is_empty(), "no code is exchanged before the state checks out");
}

#[test]
fn a_reused_code_is_refused() {
    let (github, luna) = luna_for_ada(|_| {});
    let mut browser = Browser::default();
    let first = browser.start_login(luna.address, "/");
    assert_eq!(browser.get(luna.address, &first).status, 302);

    // An attacker with the old callback URL and a fresh login cookie of their own.
    let mut attacker = Browser::default();
    let fresh = attacker.start_login(luna.address, "/");
    let state = fresh.split("state=").nth(1).unwrap();
    let replay = format!("{}state={state}", first.split("state=").next().unwrap());
    let response = attacker.get(luna.address, &replay);

    assert_eq!(response.status, 502, "{}", response.body);
    assert!(response.body.contains("bad_verification_code"), "{}", response.body);
    assert!(attacker.cookie("luna_session").is_none());
    assert_eq!(github.token_requests(), ["ok", "reused_code"]);
}

#[test]
fn users_outside_the_allow_list_stay_out() {
    let github = StandInGithub::start(GithubUser { id: 1, login: "mallory".into(), orgs: vec!["other".into()] });
    let luna = luna_with(&github, "allowed_users = [\"ada\"]\nallowed_orgs = [\"lunatics\"]", |_| {});
    let mut browser = Browser::default();

    let response = browser.login(luna.address, "/");

    assert_eq!(response.status, 403);
    assert!(response.body.contains("@mallory is not allowed"), "{}", response.body);
    assert!(browser.cookie("luna_session").is_none());
    assert_eq!(browser.get(luna.address, "/").status, 302);
}

#[test]
fn organization_members_get_in_and_an_unanswerable_org_check_denies() {
    // The allowed organization is on the third page of /user/orgs.
    let orgs = vec!["a".into(), "b".into(), "c".into(), "d".into(), "Lunatics".into()];
    let github = StandInGithub::start(GithubUser { id: 7, login: "grace".into(), orgs });
    let luna = luna_with(&github, "allowed_users = [\"ada\"]\nallowed_orgs = [\"lunatics\"]", |_| {});

    let mut member = Browser::default();
    assert_eq!(member.login(luna.address, "/").status, 302);
    assert_eq!(member.get(luna.address, "/").status, 200);

    github.set(|github| github.orgs_fail = true);
    let mut unlucky = Browser::default();
    let failed = unlucky.login(luna.address, "/");
    assert_eq!(failed.status, 403, "{}", failed.body);
    assert!(failed.body.contains("could not check your organization"), "{}", failed.body);
    assert!(unlucky.cookie("luna_session").is_none());

    github.set(|github| {
        github.orgs_fail = false;
        github.grant_read_org = false;
    });
    let mut no_scope = Browser::default();
    let refused = no_scope.login(luna.address, "/");
    assert_eq!(refused.status, 403, "a token without read:org cannot show membership");
    assert!(no_scope.cookie("luna_session").is_none());
}

#[test]
fn every_login_gets_a_new_session_id() {
    let (_github, luna) = luna_for_ada(|_| {});
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    let first = browser.cookie("luna_session").unwrap().clone();

    browser.login(luna.address, "/");
    let second = browser.cookie("luna_session").unwrap().clone();

    assert_ne!(first, second);
    let mut old = Browser::default();
    old.set_cookie("luna_session", &first);
    assert_eq!(old.get(luna.address, "/").status, 302, "the session before the new login ended");
    assert_eq!(browser.get(luna.address, "/").status, 200);
}

#[test]
fn logout_and_revocation_make_the_cookie_useless() {
    let (_github, luna) = luna_for_ada(|_| {});
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    let cookie = browser.cookie("luna_session").unwrap().clone();

    let logout = browser.request(luna.address, "POST", "/auth/logout", &[("Content-Length", "0")]);
    assert_eq!(logout.status, 303);
    assert!(browser.cookie("luna_session").is_none(), "the cookie is cleared");
    let mut kept = Browser::default();
    kept.set_cookie("luna_session", &cookie);
    assert_eq!(kept.get(luna.address, "/").status, 302, "a copy of the old cookie is useless");

    let mut laptop = Browser::default();
    laptop.login(luna.address, "/");
    let mut phone = Browser::default();
    phone.login(luna.address, "/");
    let listed = phone.request(luna.address, "GET", "/api/supervisor/sessions", &[("Accept", "application/json")]);
    let sessions = json(&listed);
    assert_eq!(sessions.as_array().unwrap().len(), 2, "{sessions:#}");

    let seen_from_laptop =
        json(&laptop.request(luna.address, "GET", "/api/supervisor/sessions", &[("Accept", "application/json")]));
    let laptop_id = seen_from_laptop
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap_or_else(|| panic!("no current session: {seen_from_laptop}"))["id"]
        .clone();

    // The owner revokes the laptop's session from the CLI (16 characters are enough).
    let list = luna_command(luna.path()).args(["sessions", "list", "--json"]).output().unwrap();
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let all: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(all.as_array().unwrap().iter().any(|session| session["id"] == laptop_id));
    let prefix = &laptop_id.as_str().unwrap()[..16];
    let revoke = luna_command(luna.path()).args(["sessions", "revoke", prefix]).output().unwrap();
    assert!(revoke.status.success(), "{}", String::from_utf8_lossy(&revoke.stderr));

    assert_eq!(laptop.get(luna.address, "/").status, 302, "revoked at once");
    assert_eq!(phone.get(luna.address, "/").status, 200);
}

#[test]
fn redirects_after_login_stay_on_this_site() {
    let (_github, luna) = luna_for_ada(|_| {});
    let cases = [
        "//evil.com",
        "/\\evil.com",
        "/\t/evil.com",
        "https://evil.com",
        "/%2F%2Fevil.com",
        "/ /evil.com",
        "javascript:alert(1)",
        "/auth/login?rd=//evil.com",
    ];
    for rd in cases {
        let mut browser = Browser::default();
        let response = browser.login(luna.address, rd);
        assert_eq!(response.status, 302, "{rd:?}");
        assert_eq!(response.header("location"), Some("/"), "rd {rd:?} must not leave the site");
    }
}

#[test]
fn upstreams_get_a_verified_identity_and_never_the_session() {
    let (_github, luna, mut browser) = ada_at_alpha();
    browser.set_cookie("theme", "dark");

    let host = luna.app_host("alpha");
    let response = browser.open_app(
        luna.address,
        &host,
        "/api/alpha/whoami",
        &[
            ("X-Luna-User", "mallory"),
            ("X_Luna_User", "mallory"),
            ("X-Luna-Identity", "forged"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("Forwarded", "for=10.0.0.1"),
        ],
    );

    let seen = json(&response);
    assert_eq!(seen["user"], serde_json::json!(["ada"]), "only the gateway's X-Luna-User arrives");
    assert_eq!(seen["forwarded_for"], serde_json::json!(["127.0.0.1"]), "the gateway's, not the client's");
    assert_eq!(seen["cookie"], "theme=dark", "the session cookie is stripped, others pass");
    let token = seen["identity"].as_str().unwrap();
    assert_ne!(token, "forged");
    let jwks = json(&raw_http::get(luna.address, "/.well-known/jwks.json"));
    let key = jsonwebtoken::DecodingKey::from_ed_components(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[format!("http://{host}")]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).unwrap().claims;
    assert_eq!((claims["login"].as_str(), claims["sub"].as_str()), (Some("ada"), Some("4242")));

    let anonymous =
        raw_http::request(luna.address, "GET", "/api/alpha/whoami", &[("Host", &host), ("X-Luna-User", "ada")]);
    assert_eq!(anonymous.status, 401, "a spoofed header is no login");
}

#[test]
fn sessions_work_on_postgres() {
    let database_url = crate::support::postgres::fresh_database();
    let github = StandInGithub::start(ada());
    let luna = luna_with(&github, &format!("allowed_users = [\"ada\"]\n[database]\nurl = \"{database_url}\""), |_| {});
    let mut browser = Browser::default();

    assert_eq!(browser.login(luna.address, "/").status, 302);
    assert_eq!(browser.get(luna.address, "/").status, 200);
    assert!(!luna.path().join(".luna/luna.db").exists(), "nothing went to SQLite");

    let rows = crate::support::postgres::count(&database_url, "SELECT COUNT(*) FROM sessions WHERE login = 'ada'");
    assert_eq!(rows, 1);
    browser.request(luna.address, "POST", "/auth/logout", &[("Content-Length", "0")]);
    assert_eq!(crate::support::postgres::count(&database_url, "SELECT COUNT(*) FROM sessions"), 0);
}

#[test]
fn upstreams_cannot_plant_lunas_cookies() {
    let (_github, luna, mut browser) = ada_at_alpha();
    let session = browser.cookie("luna_session").unwrap().clone();

    let response = browser.open_app(luna.address, &luna.app_host("alpha"), "/api/alpha/set-cookies", &[]);

    assert_eq!(response.status, 200);
    let set_cookies = response.headers("set-cookie");
    assert_eq!(set_cookies, ["theme=light; Path=/ext"], "only the upstream's own cookie passes: {}", response.head);
    assert_eq!(browser.cookie("luna_session"), Some(&session));
}

#[test]
fn allow_list_changes_apply_to_existing_sessions_and_ids_are_accepted() {
    let github = StandInGithub::start(ada());
    // Admitted by GitHub id rather than login.
    let mut luna = luna_with(&github, "allowed_users = [\"4242\"]", |_| {});
    let mut browser = Browser::default();
    assert_eq!(browser.login(luna.address, "/").status, 302);
    assert_eq!(browser.get(luna.address, "/").status, 200);

    luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    let home = luna.into_home();
    write_config_with(home.path(), FAST_SUPERVISION, &github.config("allowed_users = [\"grace\"]"));
    let luna = TestLuna::start_in(home);

    assert_eq!(browser.get(luna.address, "/").status, 302, "ada was removed from the allow-list");
}

#[test]
fn other_sites_cannot_log_a_user_out() {
    let (_github, luna) = luna_for_ada(|_| {});
    let mut browser = Browser::default();
    browser.login(luna.address, "/");

    let forged = browser.request(
        luna.address,
        "POST",
        "/auth/logout",
        &[("Origin", "https://evil.example"), ("Content-Length", "0")],
    );

    assert_eq!(forged.status, 403);
    assert_eq!(browser.get(luna.address, "/").status, 200, "still logged in");
}

#[test]
fn an_all_digit_allow_list_entry_is_an_id_never_a_login() {
    // GitHub allows all-digit logins: whoever registers "4242" is not user 4242.
    let github = StandInGithub::start(GithubUser { id: 77, login: "4242".into(), orgs: vec![] });
    let luna = luna_with(&github, "allowed_users = [\"4242\"]", |_| {});
    let mut stranger = Browser::default();

    let refused = stranger.login(luna.address, "/");

    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(stranger.cookie("luna_session").is_none());
}

#[test]
fn an_ambiguous_allow_list_entry_stops_the_start() {
    let github = StandInGithub::start(ada());
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), StandInGithub::env_file()).unwrap();
    write_config_with(home.path(), FAST_SUPERVISION, &github.config("allowed_users = [\"@ada\"]"));

    let output = serve_expecting_refusal(home.path(), &[]);

    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("auth.allowed_users") && stderr.contains("without the @"), "{stderr}");
}

#[test]
fn an_organization_taken_off_the_list_ends_its_members_sessions() {
    let github = StandInGithub::start(GithubUser { id: 7, login: "grace".into(), orgs: vec!["lunatics".into()] });
    let luna = luna_with(&github, "allowed_users = [\"ada\"]\nallowed_orgs = [\"lunatics\"]", |_| {});
    let mut member = Browser::default();
    assert_eq!(member.login(luna.address, "/").status, 302);
    assert_eq!(member.get(luna.address, "/").status, 200);

    let config = github.config("allowed_users = [\"ada\"]\nallowed_orgs = [\"others\"]");
    let luna = luna.restart_with(|home| write_config_with(home, FAST_SUPERVISION, &config));

    assert_eq!(member.get(luna.address, "/").status, 302, "admitted by an organization no longer listed");
}

#[test]
fn a_planted_session_cookie_neither_locks_out_nor_swaps_the_user() {
    let github = StandInGithub::start(ada());
    let luna = luna_with(&github, "allowed_users = [\"ada\", \"grace\"]", |_| {});
    let mut ada_browser = Browser::default();
    ada_browser.login(luna.address, "/");
    let own = ada_browser.cookie("luna_session").unwrap().clone();
    github.set(|github| github.user = GithubUser { id: 7, login: "grace".into(), orgs: vec![] });
    let mut grace_browser = Browser::default();
    grace_browser.login(luna.address, "/");
    let theirs = grace_browser.cookie("luna_session").unwrap().clone();

    // A session that ended: its cookie still decrypts.
    let mut other_tab = Browser::default();
    other_tab.login(luna.address, "/");
    let ended = other_tab.cookie("luna_session").unwrap().clone();
    other_tab.request(luna.address, "POST", "/auth/logout", &[("Content-Length", "0")]);

    // A page on this origin can set a same-named cookie with a longer path; the browser
    // then sends it first, before Luna's own (path `/`). Or after it, with another domain.
    for cookie in [
        format!("luna_session=garbage; luna_session={own}"),
        format!("luna_session={theirs}; luna_session={own}"),
        format!("luna_session={own}; luna_session={ended}"),
        // Another app's cookie that is not ASCII hides nothing.
        format!("pref=café; luna_session={own}"),
    ] {
        let me = raw_http::request(luna.address, "GET", "/auth/me", &[("Cookie", &cookie)]);
        assert_eq!(json(&me)["login"], "ada", "{cookie}");
        let status = raw_http::request(luna.address, "GET", "/api/supervisor/status", &[("Cookie", &cookie)]);
        assert_eq!(status.status, 200, "{cookie}: {}", status.body);
    }
}

#[test]
fn extensions_get_the_owners_keys_but_never_lunas_own_secrets() {
    let (_github, luna) = luna_for_ada(|home| {
        let env = format!("{}WEATHER_API_KEY=w-1\n", StandInGithub::env_file());
        std::fs::write(home.join(".env"), env).unwrap();
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "service.py");
    });
    luna.wait_running("alpha.api");
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    assert!(std::fs::read_to_string(luna.path().join(".env")).unwrap().contains("MCP_AUTH_TOKEN="));

    let seen = json(&browser.open_app(luna.address, &luna.app_host("alpha"), "/api/alpha/whoami", &[]));

    let names: Vec<&str> = seen["environment"].as_array().unwrap().iter().map(|name| name.as_str().unwrap()).collect();
    assert!(names.contains(&"WEATHER_API_KEY"), "the owner's own keys: {names:?}");
    for own in ["MCP_AUTH_TOKEN", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "AGENT_API_KEY"] {
        assert!(!names.contains(&own), "{own} reached the extension: {names:?}");
    }
}
