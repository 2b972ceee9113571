//! The audit log through the real gateway, the CLI and MCP: each class of action recorded
//! with its principal and outcome, never a secret value or (by default) a tool's arguments;
//! the retention applied.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::oauth::json;
use crate::support::browser::Browser;
use crate::support::extension::{FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::{TestLuna, luna_command};
use crate::support::mcp::{self, STATELESS};
use crate::support::wait_until;

fn user(id: i64, login: &str) -> GithubUser {
    GithubUser { id, login: login.into(), orgs: vec![] }
}

fn write_home(github: &StandInGithub, home: &Path) {
    std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
    write_config_with(home, FAST_SUPERVISION, &github.config("allowed_users = [\"ada\"]"));
    crate::mcp::add_hello(home);
}

fn entries(luna: &TestLuna) -> Vec<Value> {
    luna.get_json("/api/supervisor/audit?limit=1000").as_array().unwrap().clone()
}

/// Waits for an entry of `action` (on `target`) and answers it.
fn entry(luna: &TestLuna, action: &str, target: Option<&str>) -> Value {
    let mut found = None;
    wait_until(Duration::from_secs(10), &format!("an audit entry {action} {target:?}"), || {
        found = entries(luna)
            .into_iter()
            .find(|entry| entry["action"] == action && target.is_none_or(|target| entry["target"] == target));
        found.is_some()
    });
    found.unwrap()
}

#[test]
fn logins_changes_and_tool_calls_are_audited_without_values_or_arguments() {
    let github = StandInGithub::start(user(666, "mallory"));
    let luna = TestLuna::start_with(|home| write_home(&github, home));
    luna.wait_running("hello_tools");

    let mut mallory = Browser::default();
    assert_eq!(mallory.login(luna.address, "/").status, 403);
    let refused = entry(&luna, "login", None);
    assert_eq!((refused["principal"].as_str(), refused["outcome"].as_str()), (Some("@mallory"), Some("refused")));

    github.set(|github| github.user = user(4242, "ada"));
    let mut ada = Browser::default();
    assert_eq!(ada.login(luna.address, "/").status, 302);
    let logged_in = entries(&luna);
    assert!(
        logged_in
            .iter()
            .any(|entry| entry["action"] == "login" && entry["principal"] == "@ada" && entry["outcome"] == "ok")
    );

    // Changes through the gateway, with the session.
    let json_body = [("Content-Type", "application/json"), ("Accept", "application/json")];
    let disabled = ada.request(luna.address, "POST", "/api/supervisor/extensions/hello/disable", &json_body);
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let disable = entry(&luna, "disable_extension", Some("hello"));
    assert_eq!((disable["principal"].as_str(), disable["outcome"].as_str()), (Some("@ada"), Some("ok")));
    ada.request(luna.address, "POST", "/api/supervisor/extensions/hello/enable", &json_body);
    let secret = "sk-do-not-log-this-value";
    let set = ada.request_with_body(
        luna.address,
        "PUT",
        "/api/supervisor/keys/WEATHER_API_KEY",
        &json_body,
        &format!(r#"{{"value": "{secret}"}}"#),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    entry(&luna, "set_key", Some("WEATHER_API_KEY"));
    let missing = ada.request(luna.address, "POST", "/api/supervisor/services/nosuch.api/restart", &json_body);
    assert_eq!(missing.status, 404);
    let failed = entry(&luna, "restart_process", Some("nosuch.api"));
    assert_eq!((failed["outcome"].as_str(), failed["detail"].as_str()), (Some("failed"), Some("HTTP 404")));

    // The CLI is the owner; an MCP tool call is recorded without its arguments.
    luna.wait_running("hello.api");
    let restarted = luna_command(luna.path()).args(["service", "restart", "hello.api"]).output().unwrap();
    assert!(restarted.status.success(), "{}", String::from_utf8_lossy(&restarted.stderr));
    assert_eq!(entry(&luna, "restart_process", Some("hello.api"))["principal"], "owner");
    luna.wait_running("hello_tools");
    let token = String::from_utf8(luna_command(luna.path()).arg("token").output().unwrap().stdout).unwrap();
    let url = format!("http://{}/api/mcp", luna.address);
    mcp::sdk(&url, STATELESS, Some(token.trim()), &["call", "HELLO_GET_greeting", r#"{"name": "Zebulon"}"#]);
    let call = entry(&luna, "tool_call", Some("HELLO_GET_greeting"));
    assert_eq!((call["principal"].as_str(), call["outcome"].as_str()), (Some("owner"), Some("ok")));
    assert!(call["duration_ms"].is_i64(), "{call}");

    // Sessions: one revoked, one logged out.
    let mut second = Browser::default();
    second.login(luna.address, "/");
    let sessions = json(&ada.request(luna.address, "GET", "/api/supervisor/sessions", &json_body));
    let other = sessions.as_array().unwrap().iter().find(|session| session["current"] == false).unwrap()["id"].clone();
    let revoke = format!("/api/supervisor/sessions/{}/revoke", other.as_str().unwrap());
    assert_eq!(ada.request(luna.address, "POST", &revoke, &json_body).status, 200);
    entry(&luna, "revoke_session", other.as_str());
    ada.request(luna.address, "POST", "/auth/logout", &[("Content-Length", "0")]);
    assert_eq!(entry(&luna, "logout", None)["principal"], "@ada");

    let everything = serde_json::to_string(&entries(&luna)).unwrap();
    assert!(!everything.contains(secret), "a key's value is never recorded");
    assert!(!everything.contains("Zebulon"), "a tool's arguments are not recorded by default");

    // `luna audit` shows the same, filtered.
    let output = luna_command(luna.path()).args(["audit", "--action", "login", "--json"]).output().unwrap();
    let logins: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(logins.len() >= 3 && logins.iter().all(|entry| entry["action"] == "login"), "{logins:?}");
    assert!(logins.first().unwrap()["id"].as_i64() < logins.last().unwrap()["id"].as_i64(), "oldest first");
}

#[test]
fn entries_past_the_retention_are_deleted() {
    let github = StandInGithub::start(user(4242, "ada"));
    let luna = TestLuna::start_with(|home| write_home(&github, home));
    let mut ada = Browser::default();
    ada.login(luna.address, "/");
    entry(&luna, "login", None);

    // An entry from 40 days ago, written while Luna is stopped; 30 days are kept.
    let luna = luna.restart_with(|home| {
        let config = home.join("config/luna.toml");
        let toml = std::fs::read_to_string(&config).unwrap() + "[audit]\nretention_days = 30\n";
        std::fs::write(&config, toml).unwrap();
        let old = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 40 * 86_400) as i64;
        let script = format!(
            "import sqlite3; db = sqlite3.connect('{}'); db.execute(\"INSERT INTO audit_log (id, at, principal, action, \
             outcome) VALUES (?, ?, 'owner', 'ancient', 'ok')\", ({}, {old})); db.commit()",
            home.join(".luna/luna.db").display(),
            old * 1_000_000
        );
        let inserted = std::process::Command::new("python3").args(["-c", &script]).output().unwrap();
        assert!(inserted.status.success(), "{}", String::from_utf8_lossy(&inserted.stderr));
    });

    wait_until(Duration::from_secs(10), "the old entry to be deleted", || {
        !entries(&luna).iter().any(|entry| entry["action"] == "ancient")
    });
    assert!(entries(&luna).iter().any(|entry| entry["action"] == "login"), "recent entries stay");
}
