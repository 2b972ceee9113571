//! `/metrics` scraped by a real Prometheus and checked by its `promtool`; who may scrape;
//! label sets that stay bounded whatever the traffic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::browser::Browser;
use crate::support::extension::{API_SERVICE, ExtensionFixture, FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::{TestLuna, luna_command};
use crate::support::mcp::{self, STATELESS};
use crate::support::prometheus::Prometheus;
use crate::support::raw_http;

fn metrics_token(luna: &TestLuna) -> String {
    let output = luna_command(luna.path()).args(["token", "--metrics"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn scrape(luna: &TestLuna, token: &str) -> raw_http::RawResponse {
    let authorization = format!("Bearer {token}");
    raw_http::request(luna.address, "GET", "/metrics", &[("Authorization", &authorization)])
}

#[test]
fn prometheus_sees_requests_a_restart_and_a_tool_call_and_promtool_accepts_the_output() {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        crate::mcp::add_hello(home);
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "service.py");
    });
    luna.wait_running("alpha.api");
    let worker = luna.wait_running("hello.worker");
    luna.wait_running("hello_tools");
    let prometheus = Prometheus::scraping(luna.address, &metrics_token(&luna));

    for _ in 0..5 {
        assert_eq!(raw_http::get(luna.address, "/healthz").status, 200);
    }
    unsafe { libc::kill(worker["pid"].as_i64().unwrap() as i32, libc::SIGKILL) };
    let url = format!("http://{}/api/mcp", luna.address);
    let token = String::from_utf8(luna_command(luna.path()).arg("token").output().unwrap().stdout).unwrap();
    let called = mcp::sdk(&url, STATELESS, Some(token.trim()), &["call", "HELLO_GET_greeting", r#"{"name": "Ada"}"#]);
    assert!(called.json["content"][0]["text"].as_str().unwrap_or_default().contains("Ada"), "{:?}", called.json);

    assert_eq!(prometheus.wait_for(r#"up{job="luna"}"#, |up| up == 1.0), 1.0, "Prometheus scrapes Luna");
    prometheus.wait_for(r#"luna_http_requests_total{route="healthz",method="GET",status="2xx"}"#, |n| n >= 5.0);
    prometheus.wait_for(r#"luna_http_request_duration_seconds_count{route="healthz"}"#, |n| n >= 5.0);
    prometheus
        .wait_for(r#"histogram_quantile(0.5, luna_http_request_duration_seconds_bucket{route="healthz"})"#, |s| {
            s > 0.0
        });
    prometheus.wait_for(r#"luna_process_restarts_total{process="hello.worker"}"#, |n| n >= 1.0);
    prometheus.wait_for(r#"luna_mcp_tool_calls_total{tool="HELLO_GET_greeting",outcome="ok"}"#, |n| n >= 1.0);
    prometheus.wait_for(r#"luna_build_info"#, |n| n == 1.0);
    prometheus.wait_for(r#"luna_mcp_sessions"#, |n| n == 0.0);
    std::fs::write(luna.path().join("extensions/alpha/services/api/unhealthy"), "").unwrap();
    prometheus.wait_for(r#"luna_process_health_check_failures_total{process="alpha.api"}"#, |n| n >= 1.0);

    let text = scrape(&luna, &metrics_token(&luna)).body;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run promtool");
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// `count` requests on one keep-alive connection, each to a path never seen before.
fn random_paths(luna: &TestLuna, count: usize) {
    let stream = TcpStream::connect(luna.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    for n in 0..count {
        let request = format!(
            "GET /random-{n}/x{n}?q={n} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
            luna.address
        );
        writer.write_all(request.as_bytes()).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        reader.by_ref().take(length).read_to_end(&mut Vec::new()).unwrap();
    }
}

#[test]
fn metrics_need_a_token_or_a_session_and_their_series_stay_bounded() {
    let github = StandInGithub::start(GithubUser { id: 4242, login: "ada".into(), orgs: vec![] });
    let config = github.config("allowed_users = [\"ada\"]");
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
    });
    let token = metrics_token(&luna);

    let anonymous = raw_http::get(luna.address, "/metrics");
    assert_eq!((anonymous.status, anonymous.header("www-authenticate")), (401, Some("Bearer")));
    assert_eq!(scrape(&luna, "not-the-token").status, 401);
    assert_eq!(scrape(&luna, &format!("{token}x")).status, 401);
    let scraped = scrape(&luna, &token);
    assert_eq!(scraped.status, 200, "{}", scraped.body);
    assert!(scraped.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    assert_eq!(browser.request(luna.address, "GET", "/metrics", &[]).status, 200, "a session will do");

    let series = |text: &str| text.lines().filter(|line| line.starts_with("luna_http_")).count();
    random_paths(&luna, 100);
    let before = series(&scrape(&luna, &token).body);
    random_paths(&luna, 10_000);
    let after = scrape(&luna, &token).body;
    assert_eq!(series(&after), before, "10,000 new paths add no series");
    assert!(!after.contains("random-"), "no path is a label");
    assert!(after.lines().any(|line| line == "luna_http_requests_in_flight 1"), "only the scrape itself is in flight");
    assert!(after.lines().any(|line| line == "luna_http_open_streams 0"));
}
