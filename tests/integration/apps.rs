//! App origins: every extension and external-service UI on `<app>.localhost:<port>` (or a
//! port of its own, where the site is a bare IP address), the GitHub login carried there by
//! the login hop, and the Hub's origin closed to them.

use std::path::Path;

use crate::oauth::json;
use crate::support::browser::Browser;
use crate::support::extension::{ExtensionFixture, FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::TestLuna;
use crate::support::raw_http::{self, RawResponse};

fn ada() -> GithubUser {
    GithubUser { id: 4242, login: "ada".into(), orgs: vec![] }
}

/// Luna with GitHub login (ada allowed) and two apps, `hostile` and `other`, whose pages
/// attack the Hub (`tests/fixtures/bin/hostile_app.py`).
fn luna_with_apps() -> (StandInGithub, TestLuna) {
    luna_with_apps_and("")
}

/// [`luna_with_apps`] with more of `luna.toml`.
fn luna_with_apps_and(more_config: &str) -> (StandInGithub, TestLuna) {
    let github = StandInGithub::start(ada());
    let config = format!("{more_config}\n{}", github.config("allowed_users = [\"ada\"]"));
    let luna = TestLuna::start_with(|home: &Path| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        ExtensionFixture::new(home, "hostile").ui("hostile_app.py");
        ExtensionFixture::new(home, "other").ui("hostile_app.py");
    });
    luna.wait_running("hostile_ui");
    luna.wait_running("other_ui");
    (github, luna)
}

/// A GET on `host` as a page would ask (`Accept: text/html`), with the browser's cookies.
fn page(browser: &mut Browser, luna: &TestLuna, host: &str, target: &str) -> RawResponse {
    browser.request(luna.address, "GET", target, &[("Host", host), ("Accept", "text/html")])
}

/// The path and query of an absolute URL.
fn target_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    &rest[rest.find('/').unwrap()..]
}

/// Starts the hop on `host` and lets the Hub answer it: the callback URL (not yet visited).
fn hop_callback(browser: &mut Browser, luna: &TestLuna, host: &str) -> String {
    let start = page(browser, luna, host, "/app.js?x=1");
    assert_eq!(start.status, 302, "{}", start.body);
    let to_hub = start.header("location").unwrap().to_string();
    assert!(to_hub.starts_with(&format!("http://127.0.0.1:{}/auth/app?app=", luna.address.port())), "{to_hub}");
    let hub = browser.get(luna.address, target_of(&to_hub));
    assert_eq!(hub.status, 302, "{}", hub.body);
    let callback = hub.header("location").unwrap().to_string();
    assert!(callback.starts_with(&format!("http://{host}/__luna/callback?code=")), "{callback}");
    callback
}

#[test]
fn the_login_hop_code_is_single_use_bound_to_its_app_and_to_the_browser_that_asked() {
    let (github, luna) = luna_with_apps();
    let (hostile, other) = (luna.app_host("hostile"), luna.app_host("other"));
    let mut browser = Browser::default();
    browser.login(luna.address, "/");

    let callback = hop_callback(&mut browser, &luna, &hostile);
    // Another browser (mallory, who is not on the allow-list) with the stolen link.
    let mut mallory = Browser::default();
    let stolen = page(&mut mallory, &luna, &hostile, target_of(&callback));
    assert_eq!(stolen.status, 403, "without the state cookie of the browser that asked: {}", stolen.body);
    let burnt = page(&mut browser, &luna, &hostile, target_of(&callback));
    assert_eq!(burnt.status, 403, "a failed redemption burns the code");

    let callback = hop_callback(&mut browser, &luna, &hostile);
    let elsewhere = page(&mut browser, &luna, &other, target_of(&callback));
    assert_eq!(elsewhere.status, 403, "a code works only on the app it was made for");

    let callback = hop_callback(&mut browser, &luna, &hostile);
    let redeemed = page(&mut browser, &luna, &hostile, target_of(&callback));
    assert_eq!((redeemed.status, redeemed.header("location")), (302, Some("/app.js?x=1")), "back where it started");
    assert!(redeemed.headers("set-cookie").iter().any(|cookie| cookie.starts_with("luna_app-hostile=")));
    let again = page(&mut browser, &luna, &hostile, target_of(&callback));
    assert_eq!(again.status, 403, "single use");
    let script = page(&mut browser, &luna, &hostile, "/app.js?x=1");
    assert_eq!(script.status, 200, "logged in on the app's origin");
    assert!(script.body.contains("const hub"));
    assert_eq!(github.logins(), 1, "one GitHub login for the Hub and the app");

    // The app session is the Hub session: logging out of the Hub ends it.
    browser.request(luna.address, "POST", "/auth/logout", &[("Content-Length", "0")]);
    let after = browser.request(luna.address, "GET", "/app.js", &[("Host", &hostile)]);
    assert_eq!(after.status, 401, "{}", after.body);
}

#[test]
fn the_hubs_origin_serves_no_app_and_refuses_what_other_origins_send_except_navigations() {
    let (_github, luna) = luna_with_apps();
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    let app_origin = format!("http://{}", luna.app_host("hostile"));

    // An app's path on the Hub's origin leads to its origin; its absolute `/app.js` would
    // load the Hub's answer there, so an app like this one cannot work under a path.
    let moved = browser.get(luna.address, "/ext/hostile/app.js");
    assert_eq!((moved.status, moved.header("location")), (308, Some(format!("{app_origin}/app.js").as_str())));
    assert!(!browser.get(luna.address, "/app.js").body.contains("const hub"));

    let from_app = [
        ("Origin", app_origin.as_str()),
        ("Sec-Fetch-Site", "same-site"),
        ("Sec-Fetch-Mode", "cors"),
        ("Sec-Fetch-Dest", "empty"),
    ];
    let read = browser.request(luna.address, "GET", "/api/supervisor/status", &from_app);
    assert_eq!((read.status, json(&read)["error"].as_str()), (403, Some("cross_site")), "{}", read.body);
    let no_origin = [("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Dest", "empty")];
    let shutdown = browser.request(luna.address, "POST", "/api/supervisor/shutdown", &no_origin);
    assert_eq!(shutdown.status, 403, "{}", shutdown.body);
    let framed = [("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "iframe")];
    assert_eq!(browser.request(luna.address, "GET", "/", &framed).status, 403, "framing the Hub");
    let link = [("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Dest", "document")];
    assert_eq!(browser.request(luna.address, "GET", "/", &link).status, 200, "a link from an app to the Hub");
    let own = [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Dest", "empty")];
    assert_eq!(browser.request(luna.address, "GET", "/api/supervisor/status", &own).status, 200, "the Hub itself");
    assert_eq!(raw_http::get(luna.address, "/healthz").status, 200);
}

#[test]
fn in_chromium_an_app_arrives_logged_in_on_its_origin_and_its_page_cannot_touch_the_hub() {
    let (github, luna) = luna_with_apps();

    let summary = crate::hub::journey(&luna, "apps", &[]);

    assert_eq!(summary["app_url"], format!("http://{}/", luna.app_host("hostile")), "{summary:#}");
    assert_eq!(github.logins(), 1, "no second GitHub round trip: {summary:#}");
    let attacks = &summary["attacks"];
    assert_eq!(attacks["script_ran"], true, "the app works at the root of its origin");
    for read in ["status", "secrets"] {
        assert!(attacks[read]["blocked"].is_string(), "{read} was readable from the app: {summary:#}");
    }
    assert_eq!(summary["frame_shows_hub"], 0, "the Hub is never framed: {summary:#}");
    assert_eq!(raw_http::get(luna.address, "/healthz").status, 200, "the shutdown did not happen");
    assert_eq!(summary["hub_who"].as_str().map(|who| who.contains("@ada")), Some(true), "{summary:#}");
    assert_eq!(summary["hub_cookies"], serde_json::json!(["luna_session"]), "no app cookie on the Hub");
    assert!(summary["app_cookies"].as_array().unwrap().contains(&"luna_app-hostile".into()), "{summary:#}");
    assert_eq!(summary["app_after_logout"], 401, "{summary:#}");
}

/// Two consecutive ports nobody listens on.
fn free_port_pair() -> u16 {
    loop {
        let first = crate::support::free_port();
        if first < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", first + 1)).is_ok() {
            return first;
        }
    }
}

#[test]
fn where_apps_have_ports_each_answers_on_its_own_port_and_the_hub_stays_closed_to_them() {
    // What a bare IP address gets by default, asked for here on loopback.
    let first = free_port_pair();
    let ports = format!("[server]\napp_origins = \"ports\"\napp_ports = [{first}, {}]", first + 1);
    let (github, luna) = luna_with_apps_and(&ports);
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    let at = |port: u16| -> (std::net::SocketAddr, String) {
        (format!("127.0.0.1:{port}").parse().unwrap(), format!("127.0.0.1:{port}"))
    };

    // The Hub sends the user to the app's port, given on this first visit.
    let moved = browser.get(luna.address, "/ext/hostile/app.js?x=1");
    let expected = format!("http://127.0.0.1:{first}/app.js?x=1");
    assert_eq!((moved.status, moved.header("location")), (308, Some(expected.as_str())), "{}", moved.body);
    let (hostile, hostile_host) = at(first);
    let script = browser.open_app_at(luna.address, hostile, &hostile_host, "/app.js", &[]);
    assert_eq!(script.status, 200, "logged in on the app's port: {}", script.body);
    assert!(script.body.contains("const hub"), "the app, at the root of its origin");
    assert_eq!(github.logins(), 1, "the GitHub login carried across");

    let other_moved = browser.get(luna.address, "/ext/other/");
    let other_origin = format!("http://127.0.0.1:{}/", first + 1);
    assert_eq!(other_moved.header("location"), Some(other_origin.as_str()));
    // The browser sends hostile's cookies to every port of the host; they are no session here.
    let (other, other_host) = at(first + 1);
    let foreign_cookie = browser.request(other, "GET", "/app.js", &[("Host", &other_host)]);
    assert_eq!(foreign_cookie.status, 401, "{}", foreign_cookie.body);

    // An app's port serves that app under its own name alone.
    let hub_name = luna.address.to_string();
    let confused = browser.request(hostile, "GET", "/api/supervisor/status", &[("Host", &hub_name)]);
    assert_eq!(confused.status, 421, "the Hub's name on an app's port: {}", confused.body);
    // A page on an app's port is another origin to the Hub.
    let app_origin = format!("http://{hostile_host}");
    let from_app = [("Origin", app_origin.as_str()), ("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "cors")];
    let read = browser.request(luna.address, "GET", "/api/supervisor/status", &from_app);
    assert_eq!((read.status, json(&read)["error"].as_str()), (403, Some("cross_site")), "{}", read.body);

    // Ports are kept across restarts, so links and bookmarks stay valid.
    let luna = luna.restart_with(|_| {});
    luna.wait_running("other_ui");
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    let again = browser.get(luna.address, "/ext/other/");
    assert_eq!(again.header("location"), Some(other_origin.as_str()), "{}", again.body);
}
