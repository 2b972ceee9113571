//! The public modes' HTTPS: certificates from a real ACME server (Pebble, with
//! pebble-challtestsrv resolving the test domain to 127.0.0.1), hot swaps under live
//! connections, the self-signed fallback, redirects and HSTS.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::acme::Pebble;
use crate::support::github::StandInGithub;
use crate::support::luna::{TestLuna, luna_command};
use crate::support::tls::{TlsConnection, pem_certificates, serial};
use crate::support::{free_port, raw_http};

const DOMAIN: &str = "luna.example.com";
const HTTP1: &[&[u8]] = &[b"http/1.1"];

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A home for a public mode: `top` holds the mode keys, `tables` more `luna.toml` tables.
fn public_home(top: &str, tables: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("config")).unwrap();
    let config = format!("{top}\n[auth]\nallowed_users = [\"octocat\"]\n{tables}");
    std::fs::write(home.path().join("config/luna.toml"), config).unwrap();
    std::fs::write(home.path().join(".env"), StandInGithub::env_file()).unwrap();
    home
}

fn acme_home(pebble: &Pebble) -> tempfile::TempDir {
    public_home(
        &format!("deployment_mode = \"custom_domain\"\npublic_domain = \"{DOMAIN}\""),
        &format!(
            "[acme]\ndirectory_url = \"{}\"\nca_bundle = \"{}\"\nemail = \"admin@example.com\"\n\
             retry_initial_secs = 1\nretry_max_secs = 2\n",
            pebble.directory_url,
            pebble.ca_bundle.display()
        ),
    )
}

/// Polls `/api/supervisor/certs` until `check` holds; returns the `https` report.
fn wait_for_certs(luna: &TestLuna, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let report = luna.get_json("/api/supervisor/certs")["https"].clone();
        if check(&report) {
            return report;
        }
        assert!(Instant::now() < deadline, "certificate never {what}; last report: {report:#}\n{}", luna.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_acme(report: &Value) -> bool {
    report["source"] == "acme"
}

fn self_signed_roots(home: &Path) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    pem_certificates(&std::fs::read(home.join("certs/self-signed/fullchain.pem")).unwrap())
}

fn cli(luna: &TestLuna, args: &[&str]) -> String {
    let output = luna_command(luna.path()).args(args).output().unwrap();
    assert!(output.status.success(), "luna {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_doctor_fails_a_certificate_close_to_its_end() {
    let (http_port, https) = (free_port(), loopback(free_port()));
    let pebble = Pebble::start_issuing(http_port, Duration::from_secs(3 * 24 * 3600));
    let luna = TestLuna::start_public(acme_home(&pebble), loopback(http_port), https);
    wait_for_certs(&luna, "issued by Pebble", is_acme);

    let (healthy, report) = crate::doctor::doctor(luna.path(), &[]);
    let certificate = crate::doctor::check(&report, "certificate");
    assert!(!healthy && certificate["status"] == "fail", "{report:#}");
    let summary = certificate["summary"].as_str().unwrap();
    assert!(summary.contains(&format!("the certificate for {DOMAIN} expires in 2 days")), "{summary}");
    assert!(certificate["advice"].as_str().unwrap().contains("luna certs renew"), "{certificate:#}");
    assert_eq!(crate::doctor::check(&report, "port_https")["status"], "ok", "{report:#}");
}

#[test]
fn acme_certificate_is_issued_and_renewal_swaps_it_under_a_live_connection() {
    let (http_port, https) = (free_port(), loopback(free_port()));
    let pebble = Pebble::start(http_port);
    let luna = TestLuna::start_public(acme_home(&pebble), loopback(http_port), https);

    let report = wait_for_certs(&luna, "issued by Pebble", is_acme);
    assert_eq!(report["acme"]["state"], "valid", "{report:#}");
    assert!(report["problem"].is_null());
    assert_eq!(report["certificate"]["names"], serde_json::json!([DOMAIN]));
    let root = [pebble.root()];

    // Verified like a browser: chains to Pebble's root, for the domain.
    let mut connection = TlsConnection::open(https, DOMAIN, &root, HTTP1)
        .unwrap_or_else(|error| panic!("handshake: {error}\n{}", luna.log()));
    let first = serial(&connection.leaf());
    assert_eq!(report["certificate"]["serial"], first);
    let response = connection.get("/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("strict-transport-security"), Some("max-age=31536000"));
    // A client that trusts only the self-signed certificate is refused: this is Pebble's.
    assert!(TlsConnection::open(https, DOMAIN, &self_signed_roots(luna.path()), HTTP1).is_err());
    // HTTP/2 is offered.
    let h2 = TlsConnection::open(https, DOMAIN, &root, &[b"h2", b"http/1.1"]).unwrap();
    assert_eq!(h2.alpn().as_deref(), Some(&b"h2"[..]));

    let (status, renewed) = luna.post("/api/supervisor/certs/renew");
    assert_eq!(status, 200, "{renewed:#}\n{}\n{}", luna.log(), pebble.log());
    let second = renewed["https"]["certificate"]["serial"].as_str().unwrap().to_string();
    assert_ne!(second, first, "a renewal gets a new certificate");

    // The connection opened before the swap keeps working, on its old certificate ...
    assert_eq!(connection.get("/healthz").status, 200);
    assert_eq!(serial(&connection.leaf()), first);
    // ... and new handshakes get the new one.
    let fresh = TlsConnection::open(https, DOMAIN, &root, HTTP1).unwrap();
    assert_eq!(serial(&fresh.leaf()), second);

    let certs = luna.path().join("certs");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&certs), 0o700);
    assert_eq!(mode(&certs.join(format!("acme/{DOMAIN}/privkey.pem"))), 0o600);
    assert_eq!(mode(&certs.join("acme/account.json")), 0o600);

    let shown = cli(&luna, &["certs", "show"]);
    assert!(shown.contains(&format!("ACME for {DOMAIN}")) && shown.contains(&second), "{shown}");
    let status = cli(&luna, &["status"]);
    assert!(status.lines().any(|line| line.starts_with("https") && line.contains("running")), "{status}");
    assert!(status.contains("HTTPS") && status.contains("renewal"), "{status}");
}

#[test]
fn the_acme_account_and_certificate_survive_a_restart() {
    let (http_port, https) = (free_port(), loopback(free_port()));
    let pebble = Pebble::start(http_port);
    let mut luna = TestLuna::start_public(acme_home(&pebble), loopback(http_port), https);
    let report = wait_for_certs(&luna, "issued by Pebble", is_acme);
    let account = report["acme"]["account"].as_str().unwrap().to_string();
    let account_file = luna.path().join("certs/acme/account.json");
    let stored_account = std::fs::read(&account_file).unwrap();

    luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    let luna = TestLuna::start_public(luna.into_home(), loopback(http_port), https);
    // Served from disk at once: no new order at start.
    let again = luna.get_json("/api/supervisor/certs")["https"].clone();
    assert_eq!(again["source"], "acme");
    assert_eq!(again["certificate"]["serial"], report["certificate"]["serial"]);
    let connection = TlsConnection::open(https, DOMAIN, &[pebble.root()], HTTP1).unwrap();
    assert_eq!(serial(&connection.leaf()), report["certificate"]["serial"].as_str().unwrap());

    // The next order uses the stored account: no new account.
    let (status, renewed) = luna.post("/api/supervisor/certs/renew");
    assert_eq!(status, 200, "{renewed:#}\n{}", luna.log());
    assert_eq!(renewed["https"]["acme"]["account"], account.as_str());
    assert_eq!(std::fs::read(&account_file).unwrap(), stored_account);
    assert_eq!(luna.log().matches("created an ACME account").count(), 1, "{}", luna.log());
}

#[test]
fn an_unreachable_ca_leaves_the_self_signed_certificate_and_is_retried_until_it_answers() {
    let (http_port, https) = (free_port(), loopback(free_port()));
    let mut pebble = Pebble::prepare(http_port);
    let luna = TestLuna::start_public(acme_home(&pebble), loopback(http_port), https);

    let report = wait_for_certs(&luna, "retried", |report| report["acme"]["consecutive_failures"].as_u64() >= Some(2));
    assert_eq!(report["source"], "self_signed");
    assert_eq!(report["acme"]["state"], "failing");
    let error = report["acme"]["last_error"].as_str().unwrap();
    assert!(error.contains(&pebble.directory_url) && error.contains("refused"), "{error}");
    assert!(report["problem"].as_str().unwrap().contains("self-signed"), "{report:#}");
    assert!(report["acme"]["next_attempt_at"].is_string());

    // Meanwhile HTTPS works with the persisted self-signed certificate.
    let mut connection = TlsConnection::open(https, DOMAIN, &self_signed_roots(luna.path()), HTTP1).unwrap();
    assert_eq!(connection.get("/healthz").status, 200);
    let status = luna.get_json("/api/supervisor/status");
    let line = status["components"].as_array().unwrap().iter().find(|c| c["name"] == "https").unwrap().clone();
    assert_eq!(line["status"], "degraded", "{line:#}");
    assert!(line["detail"].as_str().unwrap().contains("refused"), "{line:#}");

    // The CA comes up: the next retry gets the certificate, without a restart.
    pebble.run();
    let report = wait_for_certs(&luna, "issued once Pebble answered", is_acme);
    assert_eq!(report["acme"]["consecutive_failures"], 0);
    assert!(report["acme"]["last_error"].is_null());
    let connection = TlsConnection::open(https, DOMAIN, &[pebble.root()], HTTP1).unwrap();
    assert_eq!(serial(&connection.leaf()), report["certificate"]["serial"].as_str().unwrap());
}

#[test]
fn lan_mode_redirects_plain_http_and_keeps_its_self_signed_certificate() {
    let (http, https) = (loopback(free_port()), loopback(free_port()));
    let home = public_home("deployment_mode = \"lan\"\npublic_domain = \"luna.home.arpa\"", "");
    let mut luna = TestLuna::start_public(home, http, https);
    let origin = format!("https://luna.home.arpa:{}", https.port());

    // Plain HTTP goes to the HTTPS origin, path and query kept, whatever Host claims.
    let response = raw_http::request(http, "GET", "/api/supervisor/status?x=1", &[("Host", "evil.example")]);
    assert_eq!(response.status, 308);
    assert_eq!(response.header("location"), Some(format!("{origin}/api/supervisor/status?x=1").as_str()));
    let response = raw_http::request_with_body(http, "POST", "/api/mcp", &[], "{}");
    assert_eq!(response.status, 308);
    assert_eq!(response.header("location"), Some(format!("{origin}/api/mcp").as_str()));
    // The target never changes the redirect's host.
    let response = raw_http::request(http, "OPTIONS", "*", &[]);
    assert_eq!(response.status, 308);
    assert_eq!(response.header("location"), Some(format!("{origin}/").as_str()));
    // ACME challenges are never redirected; an unknown token is a 404.
    let response = raw_http::get(http, "/.well-known/acme-challenge/unknown-token");
    assert_eq!(response.status, 404);
    assert_eq!(response.header("location"), None);

    let roots = self_signed_roots(luna.path());
    let mut connection = TlsConnection::open(https, "luna.home.arpa", &roots, HTTP1).unwrap();
    let first = serial(&connection.leaf());
    // HSTS on what the gateway answers and on what it proxies.
    for target in ["/healthz", "/.well-known/jwks.json"] {
        let response = connection.get(target);
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(response.header("strict-transport-security"), Some("max-age=31536000"), "{target}");
    }
    // A public mode trusts nobody for being on loopback (behind a tunnel, everyone is).
    assert_eq!(connection.get("/api/mcp").status, 401);
    assert_eq!(connection.get("/api/supervisor/status").status, 401);
    // Plain HTTP responses carry no HSTS (browsers ignore it there; it would be a lie).
    assert_eq!(raw_http::get(http, "/healthz").header("strict-transport-security"), None);

    let report = luna.get_json("/api/supervisor/certs")["https"].clone();
    assert_eq!(report["source"], "self_signed");
    assert!(report["acme"].is_null() && report["problem"].is_null(), "{report:#}");
    let (status, body) = luna.post("/api/supervisor/certs/renew");
    assert_eq!(status, 409, "{body:#}");

    // The certificate people accepted in their browser is the same after a restart.
    luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    let _luna = TestLuna::start_public(luna.into_home(), http, https);
    let connection = TlsConnection::open(https, "luna.home.arpa", &roots, HTTP1).unwrap();
    assert_eq!(serial(&connection.leaf()), first);
}

#[test]
fn public_modes_refuse_to_start_without_a_github_login() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("config")).unwrap();
    std::fs::write(home.path().join("config/luna.toml"), "deployment_mode = \"lan\"\n").unwrap();
    let output = luna_command(home.path()).args(["serve", "--http-listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("GITHUB_CLIENT_ID") && stderr.contains("lan mode"), "{stderr}");
}

#[test]
fn the_certificate_names_every_app_and_an_app_origin_is_served_over_https_with_it() {
    let (http_port, https) = (free_port(), loopback(free_port()));
    let pebble = Pebble::start(http_port);
    let home = acme_home(&pebble);
    let ui_port = free_port();
    let config = home.path().join("config/luna.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!("[supervisor]\nui_ports = [{ui_port}, {ui_port}]\n"));
    std::fs::write(&config, toml).unwrap();
    crate::support::extension::ExtensionFixture::new(home.path(), "shop").ui("hostile_app.py");
    let luna = TestLuna::start_public(home, loopback(http_port), https);
    let app = format!("shop.{DOMAIN}");

    let report = wait_for_certs(&luna, "naming the app", |report| {
        is_acme(report)
            && report["certificate"]["names"].as_array().is_some_and(|names| names.contains(&app.as_str().into()))
    });
    assert_eq!(report["certificate"]["names"], serde_json::json!([DOMAIN, app]), "the site first, one order");

    // The app's origin, verified like a browser, answers with the login hop to the Hub.
    let mut connection = TlsConnection::open(https, &app, &[pebble.root()], HTTP1)
        .unwrap_or_else(|error| panic!("handshake for {app}: {error}\n{}", luna.log()));
    let response = connection.get("/");
    assert_eq!(response.status, 401, "the app's origin asks for its own session: {}", response.body);
    assert!(response.body.contains(&format!("https://{app}:{}/", https.port())), "{}", response.body);
}

#[test]
fn apps_by_port_are_served_over_https_on_their_own_ports() {
    let (http, https) = (loopback(free_port()), loopback(free_port()));
    let (ui_port, app_port) = (free_port(), free_port());
    let tables = format!(
        "[server]\napp_origins = \"ports\"\napp_ports = [{app_port}, {app_port}]\n\
         [supervisor]\nui_ports = [{ui_port}, {ui_port}]\n"
    );
    let home = public_home("deployment_mode = \"lan\"", &tables);
    crate::support::extension::ExtensionFixture::new(home.path(), "shop").ui("hostile_app.py");
    // The port a first visit gave the app, kept from an earlier run.
    std::fs::create_dir_all(home.path().join(".luna")).unwrap();
    std::fs::write(home.path().join(".luna/app_ports.json"), format!("{{\"shop\": {app_port}}}")).unwrap();
    let luna = TestLuna::start_public(home, http, https);
    luna.wait_running("shop_ui");

    let roots = self_signed_roots(luna.path());
    let app = loopback(app_port);
    let mut connection = TlsConnection::open(app, "127.0.0.1", &roots, HTTP1)
        .unwrap_or_else(|error| panic!("handshake on the app's port: {error}\n{}", luna.log()));
    let response = connection.get("/");
    assert_eq!(response.status, 401, "the app's origin asks for its own session: {}", response.body);
    assert!(response.body.contains(&format!("https://127.0.0.1:{app_port}/")), "{}", response.body);
    assert_eq!(response.header("strict-transport-security"), Some("max-age=31536000"));
}
