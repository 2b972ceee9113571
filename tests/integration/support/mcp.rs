//! Real MCP clients, run as the user's would be: the official Python SDK
//! (`tests/mcp_clients/client.py`), the MCP Inspector CLI and the official conformance suite.
//! `scripts/test.sh` installs them and names them in `LUNA_TEST_MCP_PYTHON`,
//! `LUNA_TEST_MCP_INSPECTOR` and `LUNA_TEST_MCP_CONFORMANCE`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const LEGACY: &str = "2025-11-25";
pub const STATELESS: &str = "2026-07-28";
pub const PROTOCOLS: [&str; 2] = [LEGACY, STATELESS];

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_clients")
}

fn required_env(name: &str) -> PathBuf {
    let path = std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{name} is not set: run the tests with scripts/test.sh, or eval \"$(scripts/test-clients.sh)\"")
    });
    assert!(path.exists(), "{name}={} does not exist; rerun scripts/test-clients.sh", path.display());
    path
}

/// The venv Python with the `mcp` SDK.
pub fn python() -> PathBuf {
    required_env("LUNA_TEST_MCP_PYTHON")
}

/// The outcome of one client run: its exit code and the JSON object it printed last.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub json: serde_json::Value,
}

fn last_json_line(text: &str) -> serde_json::Value {
    text.lines().rev().find_map(|line| serde_json::from_str(line).ok()).unwrap_or(serde_json::Value::Null)
}

fn sdk_command(url: &str, protocol: &str, bearer: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(python());
    command.arg(clients_dir().join("client.py")).args(["--url", url, "--protocol", protocol]);
    if let Some(bearer) = bearer {
        // One argument: a generated token may start with `-`, which argparse reads as an option.
        command.arg(format!("--bearer={bearer}"));
    }
    command.args(args);
    command
}

fn outcome(output: std::process::Output) -> Outcome {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = last_json_line(&stdout);
    assert!(!json.is_null(), "client.py printed no JSON; stderr:\n{}", String::from_utf8_lossy(&output.stderr));
    Outcome { code: output.status.code().unwrap_or(-1), json }
}

/// Runs `client.py --url URL --protocol P [--bearer B] ARGS...` (the Python SDK).
pub fn sdk(url: &str, protocol: &str, bearer: Option<&str>, args: &[&str]) -> Outcome {
    outcome(sdk_command(url, protocol, bearer, args).output().expect("run client.py"))
}

/// A `client.py` run going on while the test does something else.
pub struct Running(Child);

impl Running {
    /// Waits for it to end.
    pub fn outcome(self) -> Outcome {
        outcome(self.0.wait_with_output().expect("wait for client.py"))
    }
}

/// Starts `client.py` like [`sdk`], without waiting for it.
pub fn sdk_started(url: &str, protocol: &str, args: &[&str]) -> Running {
    let mut command = sdk_command(url, protocol, None, args);
    Running(command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run client.py"))
}

/// What one run of the conformance suite's server scenarios said.
#[derive(Debug)]
pub struct Conformance {
    pub passed: bool,
    /// Its summary: one line per scenario, `✓` or `✗`, and the failed checks.
    pub report: String,
}

/// Runs the official conformance suite's server scenarios (`--suite all`: the pending ones
/// too) against `url`, or only `scenario`. `expected_failures` lists the scenarios that
/// must fail (a baseline: one that passes fails the run, so the list cannot go stale).
pub fn conformance(url: &str, scenario: Option<&str>, expected_failures: &[&str]) -> Conformance {
    let baseline = tempfile::NamedTempFile::new().unwrap();
    let listed: Vec<String> = expected_failures.iter().map(|name| format!("\"{name}\"")).collect();
    std::fs::write(baseline.path(), format!("server: [{}]\nclient: []\n", listed.join(", "))).unwrap();
    let mut command = Command::new(required_env("LUNA_TEST_MCP_CONFORMANCE"));
    command.args(["server", "--url", url]);
    match scenario {
        Some(scenario) => command.args(["--scenario", scenario]),
        None => command.args(["--suite", "all"]),
    };
    let output = command.arg("--expected-failures").arg(baseline.path()).output().expect("run the conformance suite");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Conformance { passed: output.status.success(), report }
}

/// Runs the MCP Inspector CLI (`inspector.sh`); its JSON is on stdout, or on stderr for errors.
pub fn inspector(url: &str, protocol: &str, bearer: Option<&str>, args: &[&str]) -> Outcome {
    let mut command = Command::new(clients_dir().join("inspector.sh"));
    command.env("MCP_INSPECTOR_BIN", required_env("LUNA_TEST_MCP_INSPECTOR")).args([
        "--url",
        url,
        "--protocol",
        protocol,
    ]);
    if let Some(bearer) = bearer {
        command.args(["--bearer", bearer]);
    }
    let output = command.args(args).output().expect("run inspector.sh");
    let mut json = last_json_line(&String::from_utf8_lossy(&output.stdout));
    if json.is_null() {
        json = last_json_line(&String::from_utf8_lossy(&output.stderr));
    }
    Outcome { code: output.status.code().unwrap_or(-1), json }
}

/// The names of the tools in a `list` outcome.
pub fn tool_names(listing: &serde_json::Value) -> Vec<String> {
    listing["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| tool["name"].as_str().map(str::to_string))
        .collect()
}

/// A 2025-11-25 session kept open by `client.py watch`, waiting for `list_changed`.
pub struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watcher {
    /// Starts the watcher and waits until its session listens (it printed `ready`).
    pub fn start(url: &str) -> (Self, serde_json::Value) {
        Self::start_for(url, "tools")
    }

    /// A watcher of `list` (`tools`, `prompts` or `resources`).
    pub fn start_for(url: &str, list: &str) -> (Self, serde_json::Value) {
        let mut child = Command::new(python())
            .arg(clients_dir().join("client.py"))
            .args(["--url", url, "--protocol", LEGACY, "watch", "--wait", "30", "--list", list])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run client.py watch");
        let lines = forward_lines(child.stdout.take().unwrap());
        let mut watcher = Self { child, lines };
        let ready = watcher.next(Duration::from_secs(30));
        assert_eq!(ready["ready"], true, "{ready}");
        (watcher, ready)
    }

    /// The next JSON line the watcher prints (within `limit`).
    pub fn next(&mut self, limit: Duration) -> serde_json::Value {
        let line = self.lines.recv_timeout(limit).expect("the watcher printed nothing in time");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}
