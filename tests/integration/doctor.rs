//! `luna doctor` against a healthy Luna, and against the faults it exists for: a callback URL
//! GitHub does not know, a wrong client secret, a world-readable `.env`, a port held by another
//! process, settings Luna refuses, a Docker engine that does not answer. (A certificate close
//! to its end is in `https.rs`, with Pebble.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::{TestLuna, luna_command};

fn octocat() -> GithubUser {
    GithubUser { id: 583231, login: "octocat".into(), orgs: vec![] }
}

/// `luna doctor --json` in `home`: whether it exited 0, and its list of checks.
pub fn doctor(home: &Path, env: &[(&str, &str)]) -> (bool, Value) {
    let output = luna_command(home).args(["doctor", "--json"]).envs(env.iter().copied()).output().unwrap();
    let checks: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("doctor --json: {error}\n{}", String::from_utf8_lossy(&output.stderr)));
    let failed = checks.as_array().expect("a list of checks").iter().any(|check| check["status"] == "fail");
    assert_eq!(output.status.success(), !failed, "the exit code says whether a check failed: {checks:#}");
    (output.status.success(), checks)
}

/// The check named `name`.
pub fn check<'a>(checks: &'a Value, name: &str) -> &'a Value {
    let mut all = checks.as_array().unwrap().iter();
    all.find(|check| check["name"] == name).unwrap_or_else(|| panic!("no {name} check in {checks:#}"))
}

fn statuses(checks: &Value) -> Vec<(String, String)> {
    let checks = checks.as_array().unwrap();
    checks
        .iter()
        .map(|check| (check["name"].as_str().unwrap().into(), check["status"].as_str().unwrap().into()))
        .collect()
}

fn luna_with_github(github: &StandInGithub) -> TestLuna {
    TestLuna::start_with(|home| {
        std::fs::create_dir(home.join("config")).unwrap();
        std::fs::write(home.join("config/luna.toml"), github.config("allowed_users = [\"octocat\"]")).unwrap();
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        std::fs::set_permissions(home.join(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    })
}

#[test]
fn doctor_passes_a_healthy_luna_and_names_each_fault_with_its_fix() {
    let github = StandInGithub::start(octocat());
    let mut luna = luna_with_github(&github);
    let callback = format!("http://{}/auth/callback", luna.address);
    github.set(|behaviour| behaviour.callback_url = Some(callback.clone()));

    let (healthy, report) = doctor(luna.path(), &[]);
    let not_ok: Vec<_> = statuses(&report).into_iter().filter(|(_, status)| status != "ok").collect();
    assert!(healthy && not_ok.is_empty(), "{not_ok:?}\n{report:#}\n{}", luna.log());
    let ids: Vec<String> = statuses(&report).into_iter().map(|(id, _)| id).collect();
    for id in ["luna", "port_http", "github", "allow_list", "docker", "disk", "clock", "files", "extensions"] {
        assert!(ids.iter().any(|found| found == id), "no {id} check: {ids:?}");
    }
    assert!(check(&report, "port_http")["summary"].as_str().unwrap().contains(&format!("pid {}", luna.pid())));
    assert!(github.token_requests().contains(&"unknown_code"), "GitHub was asked: {:?}", github.token_requests());

    // The OAuth app registered for another address.
    github.set(|behaviour| behaviour.callback_url = Some("https://luna.example.com/auth/callback".into()));
    let (healthy, report) = doctor(luna.path(), &[]);
    let github_check = check(&report, "github");
    assert!(!healthy && github_check["status"] == "fail", "{report:#}");
    let advice = github_check["advice"].as_str().unwrap();
    assert!(advice.contains(&format!("\"Authorization callback URL\" to {callback}")), "{advice}");
    github.set(|behaviour| behaviour.callback_url = Some(callback.clone()));

    // A `.env` anyone on the machine can read.
    let env_file = luna.path().join(".env");
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (healthy, report) = doctor(luna.path(), &[]);
    let files = check(&report, "files");
    assert!(!healthy && files["status"] == "fail", "{report:#}");
    assert_eq!(files["advice"], format!("chmod 600 {}", env_file.canonicalize().unwrap().display()));
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    // Luna stopped, and another process on its port: the CLI runs the checks itself, with the
    // settings of the file (the test started Luna with `--http-listen`, which it cannot know).
    luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    let config = luna.path().join("config/luna.toml");
    let settings = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{settings}\n[server]\nhttp_listen = \"{}\"\n", luna.address)).unwrap();
    let squatter = std::net::TcpListener::bind(luna.address).unwrap();
    let (healthy, report) = doctor(luna.path(), &[]);
    assert!(!healthy, "{report:#}");
    assert_eq!(check(&report, "luna")["status"], "fail", "{report:#}");
    let port = check(&report, "port_http");
    assert_eq!(port["status"], "fail", "{report:#}");
    assert!(port["summary"].as_str().unwrap().contains(&format!("held by pid {}", std::process::id())), "{port:#}");
    assert!(port["advice"].as_str().unwrap().contains("server.http_listen"), "{port:#}");
    drop(squatter);

    // A client secret GitHub does not know.
    std::fs::write(&env_file, "GITHUB_CLIENT_ID=Iv1.test-client\nGITHUB_CLIENT_SECRET=not-the-secret\n").unwrap();
    let (_, report) = doctor(luna.path(), &[]);
    let github_check = check(&report, "github");
    assert_eq!(github_check["status"], "fail", "{report:#}");
    assert!(github_check["summary"].as_str().unwrap().contains("does not accept the client id"), "{github_check:#}");
    assert_eq!(check(&report, "port_http")["status"], "ok", "the port is free again: {report:#}");
}

#[test]
fn doctor_explains_settings_luna_refuses_and_a_docker_engine_that_does_not_answer() {
    // A public mode whose allow-list is empty: Luna refuses to start, and the doctor says why.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("config")).unwrap();
    std::fs::write(home.path().join("config/luna.toml"), "deployment_mode = \"lan\"\n[auth]\nallowed_users = []\n")
        .unwrap();
    std::fs::write(home.path().join(".env"), StandInGithub::env_file()).unwrap();
    std::fs::set_permissions(home.path().join(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let (healthy, report) = doctor(home.path(), &[]);
    let settings = check(&report, "settings");
    assert!(!healthy && settings["status"] == "fail", "{report:#}");
    assert!(settings["summary"].as_str().unwrap().contains("nobody is allowed in"), "{settings:#}");
    assert!(settings["advice"].as_str().unwrap().contains("auth.allowed_users"), "{settings:#}");
    assert_eq!(check(&report, "files")["status"], "ok", "the home is still checked: {report:#}");

    // Docker installed but stopped: its socket is there and nobody answers on it.
    let local = tempfile::tempdir().unwrap();
    let socket = local.path().join("docker.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let docker_host = format!("unix://{}", socket.display());
    let (healthy, report) = doctor(local.path(), &[("DOCKER_HOST", &docker_host)]);
    let docker = check(&report, "docker");
    assert!(!healthy && docker["status"] == "fail", "{report:#}");
    assert!(docker["summary"].as_str().unwrap().contains("does not answer"), "{docker:#}");
    assert_eq!(docker["advice"], "start Docker: `sudo systemctl start docker`");
}
