//! The server installer, `install/install.sh`, on a real Debian 12 machine: a container with
//! systemd as PID 1 (`luna-test/debian-systemd:12`, built by `scripts/test-systemd-image.sh`)
//! with this checkout and the `luna` binary mounted in. A first install, unattended; the
//! service it sets up (HTTPS on 443 as a non-root user, the files' owners and modes, the unit's
//! hardening); systemd restarting a crashed and a hung Luna (the watchdog); an upgrade in place
//! that keeps the settings; an uninstall that keeps the home.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::docker::docker;

const IMAGE: &str = "luna-test/debian-systemd:12";
const SITE: &str = "https://203-0-113-7.nip.io";
const CALLBACK: &str = "https://203-0-113-7.nip.io/auth/callback";
const SECRET: &str = "installer-test-client-secret";
const INSTALLER: &str = "/src/install/install.sh";

/// A first install as the README's unattended example has it. The ACME directory is
/// unreachable on purpose: Luna serves its self-signed certificate meanwhile, and keeps
/// retrying in the background.
const FIRST_INSTALL: &[&str] = &[
    "--unattended",
    "--binary",
    "/luna-bin",
    "--mode",
    "nip_io",
    "--public-ip",
    "203.0.113.7",
    "--github-client-id",
    "Iv1.test",
    "--allowed-users",
    "octocat",
    "--acme-email",
    "ops@example.com",
    "--acme-directory-url",
    "https://127.0.0.1:9/directory",
    "--docker",
    "no",
];

/// The container, removed (with everything in it) when dropped.
struct Machine {
    name: String,
}

impl Drop for Machine {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.name]);
    }
}

/// stdout and stderr of a command, for assertions and failure messages.
fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Polls `check` every 250 ms until it holds or `limit` has passed; says whether it held.
fn poll_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl Machine {
    /// Starts the container (systemd needs SYS_ADMIN for its mounts and the host's cgroups;
    /// `--privileged` is not needed) and waits until systemd has booted it.
    fn boot() -> Machine {
        let image = docker(&["image", "inspect", IMAGE]);
        assert!(
            image.status.success(),
            "the image {IMAGE} is missing: scripts/test-systemd-image.sh builds it (scripts/test.sh runs it)\n{}",
            text(&image)
        );
        let machine = Machine { name: format!("luna-installer-{}", std::process::id()) };
        docker(&["rm", "-f", &machine.name]);
        let source = format!("{}:/src:ro", env!("CARGO_MANIFEST_DIR"));
        let binary = format!("{}:/luna-bin:ro", env!("CARGO_BIN_EXE_luna"));
        let started = docker(&[
            "run",
            "-d",
            "--name",
            &machine.name,
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "-e",
            "container=docker",
            "-v",
            &source,
            "-v",
            &binary,
            IMAGE,
            "/lib/systemd/systemd",
        ]);
        assert!(started.status.success(), "cannot start a container from {IMAGE}: {}", text(&started));
        let mut state = String::new();
        let booted = poll_until(Duration::from_secs(60), || {
            state =
                String::from_utf8_lossy(&machine.exec(&["systemctl", "is-system-running"]).stdout).trim().to_string();
            state == "running" || state == "degraded"
        });
        assert!(booted, "systemd did not finish booting the container within 60 s (state: {state:?})");
        machine
    }

    fn exec(&self, args: &[&str]) -> Output {
        docker(&[&["exec", self.name.as_str()][..], args].concat())
    }

    /// Runs a command that must succeed; its stdout, trimmed.
    fn run(&self, args: &[&str]) -> String {
        let output = self.exec(args);
        assert!(output.status.success(), "`{}` failed:\n{}\n{}", args.join(" "), text(&output), self.journal());
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// The installer with `args`, the client secret in its environment only (as the README's
    /// unattended example has it).
    fn install(&self, args: &[&str]) -> Output {
        let secret = format!("GITHUB_CLIENT_SECRET={SECRET}");
        docker(&[&["exec", "-e", secret.as_str(), self.name.as_str(), INSTALLER][..], args].concat())
    }

    /// The last lines of Luna's journal, for failure messages.
    fn journal(&self) -> String {
        let journal = self.exec(&["journalctl", "-u", "luna.service", "-n", "80", "--no-pager"]);
        format!("--- journalctl -u luna -n 80:\n{}", text(&journal))
    }

    fn property(&self, name: &str) -> String {
        self.run(&["systemctl", "show", "-p", name, "--value", "luna.service"])
    }

    fn main_pid(&self) -> String {
        self.property("MainPID")
    }

    fn restarts(&self) -> u32 {
        let restarts = self.property("NRestarts");
        restarts.parse().unwrap_or_else(|_| panic!("NRestarts is {restarts:?}"))
    }

    fn is_active(&self) -> String {
        String::from_utf8_lossy(&self.exec(&["systemctl", "is-active", "luna.service"]).stdout).trim().to_string()
    }

    /// Waits until a process other than `old` is Luna's main one and systemd counts it active
    /// (which for `Type=notify` means that Luna said it is ready).
    fn wait_for_new_main_process(&self, old: &str, limit: Duration, what: &str) {
        let replaced = poll_until(limit, || {
            let pid = self.main_pid();
            pid != old && pid != "0" && self.is_active() == "active"
        });
        assert!(
            replaced,
            "{what}: no new active Luna within {limit:?} (main pid {}, {})\n{}",
            self.main_pid(),
            self.is_active(),
            self.journal()
        );
    }

    fn owner_and_mode(&self, path: &str) -> String {
        self.run(&["stat", "-c", "%U %a", path])
    }
}

#[test]
fn the_installer_sets_luna_up_as_a_hardened_service_that_systemd_restarts_upgrades_and_removes() {
    let machine = Machine::boot();

    // First install, unattended.
    let install = machine.install(FIRST_INSTALL);
    let shown = text(&install);
    assert!(install.status.success(), "the first install failed:\n{shown}\n{}", machine.journal());
    assert!(shown.contains(SITE) && shown.contains(CALLBACK), "the address and the callback URL: {shown}");
    assert!(!shown.contains(SECRET), "the installer printed the client secret: {shown}");
    assert_eq!(machine.is_active(), "active", "{}", machine.journal());

    // HTTPS on 443 from a process that is not root: the one capability the unit grants.
    let health = machine.exec(&[
        "curl",
        "-fsS",
        "-k",
        "--resolve",
        "203-0-113-7.nip.io:443:127.0.0.1",
        "https://203-0-113-7.nip.io/healthz",
    ]);
    assert!(health.status.success(), "/healthz over HTTPS on 443: {}\n{}", text(&health), machine.journal());
    let pid = machine.main_pid();
    assert_eq!(machine.run(&["ps", "-o", "user=", "-p", &pid]), "luna", "Luna runs as the luna user");
    assert_eq!(machine.owner_and_mode("/var/lib/luna"), "luna 700");
    assert_eq!(machine.owner_and_mode("/var/lib/luna/.env"), "luna 600");
    let env = machine.run(&["cat", "/var/lib/luna/.env"]);
    assert!(
        env.lines().any(|line| line == "GITHUB_CLIENT_ID=Iv1.test")
            && env.lines().any(|line| line == format!("GITHUB_CLIENT_SECRET={SECRET}")),
        "the GitHub app's credentials are in .env"
    );

    // The unit as installed: systemd finds nothing wrong with it, and rates it not unsafe.
    let verify = machine.exec(&["systemd-analyze", "verify", "/etc/systemd/system/luna.service"]);
    let verified = text(&verify);
    assert!(
        verify.status.success() && !verified.contains("luna.service"),
        "systemd-analyze verify complains about the unit:\n{verified}"
    );
    let security = machine.exec(&["systemd-analyze", "security", "luna.service", "--no-pager"]);
    let report = text(&security);
    let overall = report
        .lines()
        .find_map(|line| line.split("Overall exposure level for luna.service:").nth(1))
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    let mut words = overall.split_whitespace();
    let (level, label) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    assert!(security.status.success() && !label.is_empty(), "systemd-analyze security:\n{report}");
    assert_eq!(label, "OK", "the unit's exposure level is {level} {label}:\n{report}");

    // `luna doctor` from anywhere finds the installed home and asks the running Luna.
    let doctor = machine.exec(&["luna", "doctor", "--json"]);
    let checks: serde_json::Value = serde_json::from_slice(&doctor.stdout)
        .unwrap_or_else(|error| panic!("luna doctor --json: {error}\n{}", text(&doctor)));
    let named = |name: &str| checks.as_array().unwrap().iter().find(|check| check["name"] == name).cloned();
    assert_eq!(named("luna").map(|check| check["status"].clone()), Some("ok".into()), "{checks:#}");
    let files = named("files").map(|check| check["status"].clone());
    assert_eq!(files, Some("ok".into()), "the installer's modes pass the doctor: {checks:#}");

    // A crash: systemd starts Luna again.
    let restarts = machine.restarts();
    machine.run(&["kill", "-9", &pid]);
    machine.wait_for_new_main_process(&pid, Duration::from_secs(30), "after kill -9");
    assert!(machine.restarts() > restarts, "NRestarts went up\n{}", machine.journal());

    // A hang: a stopped Luna feeds no watchdog, and systemd kills and restarts it
    // (WatchdogSec=15s, then TimeoutAbortSec=5s, RestartSec=2s).
    let hung = machine.main_pid();
    machine.run(&["kill", "-STOP", &hung]);
    machine.wait_for_new_main_process(&hung, Duration::from_secs(60), "after SIGSTOP (the watchdog)");
    let journal = text(&machine.exec(&["journalctl", "-u", "luna.service", "--no-pager"]));
    assert!(journal.contains("Watchdog timeout"), "systemd's watchdog fired:\n{}", machine.journal());

    // An upgrade in place: nothing asked, the settings and .env untouched, a new process.
    let files = ["sha256sum", "/var/lib/luna/.env", "/var/lib/luna/config/luna.toml"];
    let before = machine.run(&files);
    let old = machine.main_pid();
    let upgrade = machine.exec(&[INSTALLER, "--unattended", "--binary", "/luna-bin", "--docker", "no"]);
    let shown = text(&upgrade);
    assert!(upgrade.status.success(), "the upgrade failed:\n{shown}\n{}", machine.journal());
    assert!(shown.contains(SITE), "the upgrade names the address: {shown}");
    assert_eq!(machine.run(&files), before, "the upgrade changed .env or luna.toml");
    assert_eq!(machine.is_active(), "active", "{}", machine.journal());
    assert_ne!(machine.main_pid(), old, "the upgrade restarted Luna");

    // Uninstall: the service and the binary go, the home stays and is named.
    let uninstall = machine.exec(&[INSTALLER, "--uninstall"]);
    let shown = text(&uninstall);
    assert!(uninstall.status.success(), "the uninstall failed:\n{shown}");
    assert!(!machine.exec(&["test", "-e", "/etc/systemd/system/luna.service"]).status.success(), "{shown}");
    assert!(!machine.exec(&["test", "-e", "/usr/local/bin/luna"]).status.success(), "{shown}");
    assert_ne!(machine.is_active(), "active");
    assert!(machine.exec(&["test", "-d", "/var/lib/luna"]).status.success(), "the home is kept");
    assert!(shown.contains("/var/lib/luna"), "the uninstall names the home it kept: {shown}");
}
