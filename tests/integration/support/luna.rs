//! `TestLuna`: the real `luna` binary in a temp home, on a free loopback port.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const LUNA: &str = env!("CARGO_BIN_EXE_luna");

pub struct TestLuna {
    pub home: tempfile::TempDir,
    pub address: SocketAddr,
    child: Option<Child>,
}

/// A `luna` command with a clean environment (no `LUNA_*` from the developer's shell).
pub fn luna_command(home: &Path) -> Command {
    let mut command = Command::new(LUNA);
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).arg("--home").arg(home);
    command
}

/// Runs `luna serve` (on a free port, with `env`) expecting it to refuse to start; returns its
/// output. A Luna that starts anyway is stopped after 10 s and the test fails.
pub fn serve_expecting_refusal(home: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let address = format!("127.0.0.1:{}", super::free_port());
    let mut child = luna_command(home)
        .args(["serve", "--http-listen", &address])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn luna");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("luna started instead of refusing:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

impl TestLuna {
    /// Starts `luna serve` and waits until `/healthz` answers.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Like [`start`](Self::start), after `prepare` has filled the home directory.
    pub fn start_with(prepare: impl FnOnce(&Path)) -> Self {
        let home = tempfile::tempdir().unwrap();
        prepare(home.path());
        Self::start_in(home)
    }

    /// Starts in an existing home, e.g. one a previous (killed) instance used.
    pub fn start_in(home: tempfile::TempDir) -> Self {
        let address: SocketAddr = format!("127.0.0.1:{}", super::free_port()).parse().unwrap();
        Self::spawn(home, address, &[], || super::raw_http::get(address, "/healthz").status == 200)
    }

    /// Stops luna (SIGTERM), lets `change` edit its home, and starts it again on the same
    /// address (so tokens issued for this site stay addressed to it).
    pub fn restart_with(mut self, change: impl FnOnce(&Path)) -> Self {
        self.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
        let address = self.address;
        let home = self.into_home();
        change(home.path());
        Self::spawn(home, address, &[], || super::raw_http::get(address, "/healthz").status == 200)
    }

    /// A public-mode Luna (the mode comes from the home's `luna.toml`): plain HTTP on `http`,
    /// HTTPS on `https`; ready once HTTPS accepts connections and the API answers.
    pub fn start_public(home: tempfile::TempDir, http: SocketAddr, https: SocketAddr) -> Self {
        let socket = home.path().join(".luna/run/api.sock");
        Self::spawn(home, http, &["--https-listen", &https.to_string()], || {
            super::is_listening(https)
                && socket.exists()
                && super::raw_http::request_unix(&socket, "GET", "/api/supervisor/health", &[]).status == 200
        })
    }

    fn spawn(home: tempfile::TempDir, address: SocketAddr, args: &[&str], ready: impl Fn() -> bool) -> Self {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(home.path().join("luna.log")).unwrap();
        let child = luna_command(home.path())
            .args(["serve", "--http-listen", &address.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn luna");
        let mut luna = Self { home, address, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if super::is_listening(address) && ready() {
                break;
            }
            if let Some(status) = luna.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("luna exited early with {status}:\n{}", luna.log());
            }
            assert!(Instant::now() < deadline, "luna did not become ready:\n{}", luna.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        luna
    }

    /// Hands the home directory over; luna must have exited already.
    pub fn into_home(mut self) -> tempfile::TempDir {
        assert!(self.child.is_none(), "stop luna before taking its home");
        std::mem::replace(&mut self.home, tempfile::tempdir().unwrap())
    }

    /// GETs from the core API on its socket, as the owner (like the CLI does).
    /// `Host` of app `app`'s origin on this Luna (`<app>.localhost:<port>`).
    pub fn app_host(&self, app: &str) -> String {
        format!("{app}.localhost:{}", self.address.port())
    }

    /// A GET on app `app`'s origin, without any session (open local mode needs none).
    pub fn app_get(&self, app: &str, target: &str) -> super::raw_http::RawResponse {
        super::raw_http::request(self.address, "GET", target, &[("Host", &self.app_host(app))])
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let response = super::raw_http::request_unix(&self.api_socket(), "GET", path, &[]);
        assert_eq!(response.status, 200, "GET {path}: {}", response.body);
        serde_json::from_str(&response.body).unwrap()
    }

    /// POSTs to the core API on its socket; returns status and JSON body.
    pub fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let response = super::raw_http::request_unix(&self.api_socket(), "POST", path, &[("Content-Length", "0")]);
        (response.status, serde_json::from_str(&response.body).unwrap_or_default())
    }

    /// The `state.json` record of process `key`, if it has one.
    pub fn process(&self, key: &str) -> Option<serde_json::Value> {
        let services = self.get_json("/api/supervisor/services");
        services["services"].get(key).cloned()
    }

    /// Waits until process `key` satisfies `check`; returns its record.
    pub fn wait_for_process(
        &self,
        key: &str,
        limit: Duration,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(record) = self.process(key).filter(|record| check(record)) {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "{key} never became {what}; last record: {:#?}\n{}",
                self.process(key),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until process `key` is `running`.
    pub fn wait_running(&self, key: &str) -> serde_json::Value {
        self.wait_for_process(key, Duration::from_secs(15), "running", |record| record["status"] == "running")
    }

    pub fn path(&self) -> &Path {
        self.home.path()
    }

    pub fn api_socket(&self) -> PathBuf {
        self.path().join(".luna/run/api.sock")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("luna.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("luna running").id() as i32
    }

    /// Sends `signal` and waits (at most `limit`) for the exit; returns status and time taken.
    pub fn signal_and_wait(&mut self, signal: i32, limit: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        // SAFETY: kill(2) with a pid we own; no memory is involved.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
        self.wait(limit, started)
    }

    /// Waits for an exit that something else caused.
    pub fn wait_for_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        self.wait(limit, Instant::now())
    }

    fn wait(&mut self, limit: Duration, started: Instant) -> (ExitStatus, Duration) {
        let child = self.child.as_mut().expect("luna running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return (status, started.elapsed());
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                panic!("luna did not exit within {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestLuna {
    /// Stops luna the way a user would, so it stops its own children; SIGKILL only if it
    /// does not exit in time.
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SAFETY: kill(2) with a pid we own.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
