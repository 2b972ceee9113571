//! Extensions supervised for real: child processes, health checks, restarts, routes.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::extension::{API_SERVICE, ExtensionFixture, FAST_SUPERVISION, copy_dir, is_alive, write_config};
use crate::support::luna::{TestLuna, luna_command};
use crate::support::raw_http;

fn pid_of(record: &serde_json::Value) -> u64 {
    record["pid"].as_u64().expect("record has a pid")
}

/// `alpha`: a UI and an API service, both the fixture HTTP service.
fn alpha(home: &Path) {
    write_config(home, FAST_SUPERVISION);
    ExtensionFixture::new(home, "alpha").ui("service.py").service("api", API_SERVICE, "service.py");
}

#[test]
fn the_bundled_hello_extension_serves_its_ui_api_and_worker() {
    let luna = TestLuna::start_with(|home| {
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("extensions/hello"), &home.join("extensions/hello"));
        write_config(home, FAST_SUPERVISION);
    });
    luna.wait_running("hello_ui");
    luna.wait_running("hello.api");
    luna.wait_running("hello.worker");

    // The UI is on its own origin, at its root; the Hub's origin sends browsers there.
    let origin = format!("http://{}", luna.app_host("hello"));
    let bare = raw_http::get(luna.address, "/ext/hello?x=1");
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some(format!("{origin}/?x=1").as_str()));
    let moved = raw_http::get(luna.address, "/api/hello/greeting?name=Ada");
    assert_eq!(moved.header("location"), Some(format!("{origin}/api/hello/greeting?name=Ada").as_str()));
    let page = luna.app_get("hello", "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Hello extension"));
    let greeting = luna.app_get("hello", "/api/hello/greeting?name=Ada");
    assert_eq!(greeting.status, 200, "{}", greeting.body);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&greeting.body).unwrap()["greeting"], "Hello, Ada!");

    let extensions = luna.get_json("/api/supervisor/extensions");
    let hello = &extensions.as_array().unwrap()[0];
    assert_eq!(hello["name"], "hello");
    assert_eq!(hello["tool_count"], 1);
    assert_eq!(hello["processes"].as_array().unwrap().len(), 3);
    // Config sync found nothing to change in the shipped config.json.
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("extensions/hello/config.json"));
    let synced = std::fs::read_to_string(luna.path().join("extensions/hello/config.json"));
    assert_eq!(synced.unwrap(), shipped.unwrap());
}

#[test]
fn routes_reach_the_right_ports_with_prefixes_stripped() {
    let luna = TestLuna::start_with(alpha);
    luna.wait_running("alpha_ui");
    luna.wait_running("alpha.api");

    let ui: serde_json::Value = serde_json::from_str(&luna.app_get("alpha", "/whoami").body).unwrap();
    assert_eq!((ui["service"].as_str(), ui["path"].as_str()), (Some("ui"), Some("/whoami")));
    assert_eq!(ui["prefix"], serde_json::Value::Null, "at the root of its origin");
    let api: serde_json::Value = serde_json::from_str(&luna.app_get("alpha", "/api/alpha/whoami").body).unwrap();
    assert_eq!((api["service"].as_str(), api["prefix"].as_str()), (Some("api"), Some("/api/alpha")));

    let ports = luna.get_json("/api/supervisor/ports");
    let ui_port = ports["extensions"]["alpha"].as_u64().unwrap();
    assert_eq!(ports["services"]["alpha.api"], ui_port + 10, "first port of each configured range");
    assert_eq!(luna.process("alpha_ui").unwrap()["port"], ui_port);
    assert_eq!(ui["pid"], luna.process("alpha_ui").unwrap()["pid"]);
}

#[test]
fn a_killed_service_is_back_within_two_seconds() {
    let luna = TestLuna::start_with(|home| {
        // The product's default timings.
        write_config(home, "");
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "service.py");
    });
    let before = pid_of(&luna.wait_running("alpha.api"));

    let killed_at = Instant::now();
    // SAFETY: kill(2) on a pid of a process this test started (through luna).
    unsafe { libc::kill(before as i32, libc::SIGKILL) };
    let after = luna.wait_for_process("alpha.api", Duration::from_secs(10), "running again", |record| {
        record["status"] == "running" && record["pid"].as_u64() != Some(before)
    });
    let took = killed_at.elapsed();

    assert!(took < Duration::from_secs(2), "back after {took:?}");
    assert_eq!(after["restarts"], 1);
    assert_eq!(after["last_exit"]["signal"], 9);
    assert_eq!(luna.app_get("alpha", "/api/alpha/whoami").status, 200);
}

#[test]
fn a_crash_loop_ends_failed_and_a_manual_restart_revives_it() {
    let luna = TestLuna::start_with(|home| {
        write_config(home, FAST_SUPERVISION);
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "flaky.sh");
    });

    let failed = luna.wait_for_process("alpha.api", Duration::from_secs(15), "failed", |r| r["status"] == "failed");
    assert_eq!(failed["restarts"], 2, "two restarts, then it gives up: {failed:#}");
    assert_eq!(failed["last_exit"]["code"], 3);
    assert!(failed["error"].as_str().unwrap().contains("gave up"), "{failed:#}");
    // It stays failed: no more restarts happen on their own.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(luna.process("alpha.api").unwrap()["status"], "failed");

    std::fs::write(luna.path().join("extensions/alpha/services/api/healthy"), "").unwrap();
    let (status, record) = luna.post("/api/supervisor/services/alpha.api/restart");
    assert_eq!(status, 200, "{record}");
    luna.wait_running("alpha.api");
}

#[test]
fn two_failed_health_checks_restart_a_live_process() {
    let luna = TestLuna::start_with(alpha);
    let before = pid_of(&luna.wait_running("alpha.api"));

    std::fs::write(luna.path().join("extensions/alpha/services/api/unhealthy"), "").unwrap();

    let after = luna.wait_for_process("alpha.api", Duration::from_secs(10), "restarted", |record| {
        record["status"] == "running" && record["pid"].as_u64() != Some(before)
    });
    assert!(!is_alive(before), "the unhealthy process was stopped");
    assert_eq!(after["restarts"], 1);
    assert!(luna.log().contains("health checks failed"), "{}", luna.log());
}

#[test]
fn stop_leaves_no_grandchild_holding_the_port() {
    let luna = TestLuna::start_with(|home| {
        write_config(home, FAST_SUPERVISION);
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "grandchild.sh");
    });
    let record = luna.wait_running("alpha.api");
    let port = record["port"].as_u64().unwrap() as u16;
    let report = luna.get_json("/api/supervisor/services/alpha.api/troubleshoot");
    let grandchild = report["port_owner"]["pid"].as_u64().expect("someone serves the port");
    assert_ne!(grandchild, pid_of(&record), "the port is held by the grandchild, not start.sh");

    let (status, stopped) = luna.post("/api/supervisor/services/alpha.api/stop");

    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert!(!is_alive(grandchild), "grandchild {grandchild} survived the stop");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "port {port} is free again");
    // Stopped stays stopped.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(luna.process("alpha.api").unwrap()["status"], "stopped");
}

#[test]
fn luna_killed_and_restarted_leaves_exactly_one_copy_of_each_child() {
    let mut luna = TestLuna::start_with(alpha);
    let old_ui = pid_of(&luna.wait_running("alpha_ui"));
    let old_api = pid_of(&luna.wait_running("alpha.api"));

    luna.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    assert!(is_alive(old_ui) && is_alive(old_api), "children outlive a SIGKILLed luna");

    let luna = TestLuna::start_in(luna.into_home());
    let new_ui = pid_of(&luna.wait_running("alpha_ui"));
    let new_api = pid_of(&luna.wait_running("alpha.api"));

    assert!(!is_alive(old_ui) && !is_alive(old_api), "the previous run's children were stopped");
    assert_ne!((new_ui, new_api), (old_ui, old_api));
    for (key, pid) in [("alpha_ui", new_ui), ("alpha.api", new_api)] {
        let report = luna.get_json(&format!("/api/supervisor/services/{key}/troubleshoot"));
        assert_eq!(report["port_owner"]["pid"].as_u64(), Some(pid), "{key}'s port is served by the new child");
    }
}

#[test]
fn ports_are_stable_across_restarts_and_new_extensions() {
    let mut luna = TestLuna::start_with(|home| {
        alpha(home);
        ExtensionFixture::new(home, "zeta").ui("service.py");
    });
    luna.wait_running("zeta_ui");
    let first = luna.get_json("/api/supervisor/ports");
    luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    let home = luna.into_home();
    // A new extension that sorts first must not take anyone's port.
    ExtensionFixture::new(home.path(), "aardvark").ui("service.py");

    let luna = TestLuna::start_in(home);
    luna.wait_running("aardvark_ui");
    let second = luna.get_json("/api/supervisor/ports");

    assert_eq!(second["extensions"]["alpha"], first["extensions"]["alpha"]);
    assert_eq!(second["extensions"]["zeta"], first["extensions"]["zeta"]);
    assert_eq!(second["services"]["alpha.api"], first["services"]["alpha.api"]);
    let alpha_port = first["extensions"]["alpha"].as_u64().unwrap();
    assert_eq!(second["extensions"]["aardvark"], alpha_port + 2, "the next free port, not a taken one");
}

#[test]
fn a_broken_extension_does_not_affect_a_good_one() {
    let luna = TestLuna::start_with(|home| {
        alpha(home);
        let broken = ExtensionFixture::new(home, "broken").ui("service.py");
        std::fs::write(broken.dir().join("config.json"), "{\"name\": \"broken\",").unwrap();
        ExtensionFixture::new(home, "badservice").service("api", r#"{"requires_port": "yes"}"#, "service.py");
        let no_exec = ExtensionFixture::new(home, "noexec").service("api", API_SERVICE, "service.py");
        std::fs::write(no_exec.dir().join("services/api/start.sh"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        let script = no_exec.dir().join("services/api/start.sh");
        std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o644)).unwrap();
    });
    luna.wait_running("alpha.api");

    let broken = luna.process("broken_ui").unwrap();
    assert_eq!(broken["status"], "misconfigured");
    assert!(broken["error"].as_str().unwrap().contains("broken/config.json: invalid JSON"), "{broken:#}");
    let bad_service = luna.process("badservice.api").unwrap();
    assert!(bad_service["error"].as_str().unwrap().contains("field `requires_port`"), "{bad_service:#}");
    let no_exec = luna.wait_for_process("noexec.api", Duration::from_secs(5), "misconfigured", |record| {
        record["status"] == "misconfigured"
    });
    assert!(no_exec["error"].as_str().unwrap().contains("not executable"), "{no_exec:#}");

    let extensions = luna.get_json("/api/supervisor/extensions");
    let problem = extensions.as_array().unwrap().iter().find(|e| e["name"] == "broken").unwrap()["problem"].clone();
    assert!(problem.as_str().unwrap().contains("config.json"), "{problem}");

    // The CLI shows the same, and exits 0: listing is not failing.
    let output = luna_command(luna.path()).args(["service", "list"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.lines().any(|line| line.starts_with("broken_ui") && line.contains("misconfigured")), "{text}");
    // And a misconfigured process cannot be started until fixed.
    let (status, _) = luna.post("/api/supervisor/services/badservice.api/start");
    assert_eq!(status, 409);
    assert_eq!(luna.app_get("alpha", "/api/alpha/whoami").status, 200);
}

#[test]
fn logs_tail_and_follow() {
    let luna = TestLuna::start_with(alpha);
    luna.wait_running("alpha.api");
    luna.app_get("alpha", "/api/alpha/whoami?first");

    // The process's output reaches its log through a pipe: shortly after the answer.
    let tail_has_it = || {
        let tail = luna.get_json("/api/supervisor/services/alpha.api/logs?tail=50");
        tail["lines"].as_array().unwrap().iter().any(|line| line == "request /whoami?first")
    };
    crate::support::wait_until(Duration::from_secs(5), "the request in the log's tail", tail_has_it);
    assert!(
        std::fs::read_to_string(luna.path().join(".luna/logs/alpha__service_api.log"))
            .unwrap()
            .contains("request /whoami?first")
    );

    let mut follower = luna_command(luna.path())
        .args(["service", "logs", "-f", "-n", "1", "alpha.api"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    // The history line arrives first: the follower is connected.
    lines_rx.recv_timeout(Duration::from_secs(5)).expect("history line");

    luna.app_get("alpha", "/api/alpha/whoami?live");

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while !seen.iter().any(|line: &String| line == "request /whoami?live") {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(lines_rx.recv_timeout(left).unwrap_or_else(|_| panic!("no live line; saw {seen:?}")));
    }
    follower.kill().unwrap();
    follower.wait().unwrap();

    let (status, body) = luna.post("/api/supervisor/services/nope/start");
    assert_eq!(status, 404, "{body}");
    let too_many = raw_http::get(luna.address, "/api/supervisor/services/alpha.api/logs?tail=100000");
    assert_eq!(too_many.status, 400);
}

#[test]
fn disable_and_enable_take_effect_live_and_persist() {
    let mut luna = TestLuna::start_with(alpha);
    let ui = pid_of(&luna.wait_running("alpha_ui"));

    let disabled = luna_command(luna.path()).args(["ext", "disable", "alpha"]).output().unwrap();
    assert!(disabled.status.success(), "{}", String::from_utf8_lossy(&disabled.stderr));
    assert!(!is_alive(ui), "disabling stops the processes");
    assert!(luna.process("alpha_ui").is_none());
    assert_ne!(luna.app_get("alpha", "/api/alpha/whoami").status, 200, "the route is gone");
    let master: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(luna.path().join(".luna/master_config.json")).unwrap()).unwrap();
    assert_eq!(master["extensions"]["alpha"]["enabled"], false);

    luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    let luna = TestLuna::start_in(luna.into_home());
    assert!(luna.process("alpha_ui").is_none(), "still disabled after a restart");

    let enabled = luna_command(luna.path()).args(["ext", "enable", "alpha", "--json"]).output().unwrap();
    assert!(enabled.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&enabled.stdout).unwrap();
    assert_eq!(summary["enabled"], true);
    luna.wait_running("alpha.api");
    assert_eq!(luna.app_get("alpha", "/api/alpha/whoami").status, 200);
}

#[test]
fn a_foreign_process_on_an_assigned_port_is_reported_not_fought() {
    let luna_home = tempfile::tempdir().unwrap();
    alpha(luna_home.path());
    std::fs::create_dir_all(luna_home.path().join(".luna")).unwrap();
    std::fs::write(
        luna_home.path().join(".luna/master_config.json"),
        r#"{"extensions": {"alpha": {"enabled": true}}, "port_assignments": {"extensions": {}, "services": {"alpha.api": 5391}}}"#,
    )
    .unwrap();
    let squatter = std::net::TcpListener::bind("127.0.0.1:5391").unwrap();

    let luna = TestLuna::start_in(luna_home);
    let record = luna.wait_for_process("alpha.api", Duration::from_secs(10), "failed", |r| r["status"] == "failed");

    let error = record["error"].as_str().unwrap();
    assert!(error.contains("port 5391 is held by pid"), "{error}");
    assert!(error.contains(&std::process::id().to_string()), "names the holder: {error}");
    assert_eq!(luna.get_json("/api/supervisor/ports")["services"]["alpha.api"], 5391, "assignment kept");
    drop(squatter);
}

#[test]
fn a_broken_master_config_stops_startup_and_is_left_alone() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".luna")).unwrap();
    let broken = "{\n  \"extensions\": {,\n}";
    std::fs::write(home.path().join(".luna/master_config.json"), broken).unwrap();

    let output = luna_command(home.path()).output().unwrap();

    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("master_config.json: line 2"), "{stderr}");
    assert_eq!(std::fs::read_to_string(home.path().join(".luna/master_config.json")).unwrap(), broken);
}

#[test]
fn stopping_luna_stops_its_children() {
    let mut luna = TestLuna::start_with(alpha);
    let ui = pid_of(&luna.wait_running("alpha_ui"));
    let api = pid_of(&luna.wait_running("alpha.api"));

    let (status, _) = luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));

    assert_eq!(status.code(), Some(0));
    assert!(!is_alive(ui) && !is_alive(api), "children stopped with luna");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(luna.path().join(".luna/state.json")).unwrap()).unwrap();
    assert!(state["services"].as_object().unwrap().values().all(|record| record["pid"].is_null()), "{state:#}");
}

#[test]
fn start_during_a_stop_answers_both_and_ends_running() {
    let luna = TestLuna::start_with(|home| {
        write_config(home, FAST_SUPERVISION);
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "stubborn.sh");
    });
    let leader = pid_of(&luna.wait_running("alpha.api"));
    let socket = luna.api_socket();

    let stopper = {
        let socket = socket.clone();
        std::thread::spawn(move || {
            raw_http::request_unix(
                &socket,
                "POST",
                "/api/supervisor/services/alpha.api/stop",
                &[("Content-Length", "0")],
            )
        })
    };
    // The stop is under way once the server child is gone while the stubborn leader lives on
    // (until the stop timeout's SIGKILL).
    crate::support::wait_until(Duration::from_secs(5), "the server child to stop", || {
        luna.get_json("/api/supervisor/services/alpha.api/troubleshoot")["port_owner"].is_null()
    });
    assert!(is_alive(leader), "the start must land while the stop is still in progress");
    let started =
        raw_http::request_unix(&socket, "POST", "/api/supervisor/services/alpha.api/start", &[("Content-Length", "0")]);
    let stopped = stopper.join().unwrap();

    assert_eq!(stopped.status, 200, "the stop is answered: {}", stopped.body);
    assert_eq!(started.status, 200, "the start is answered: {}", started.body);
    let record = luna.wait_running("alpha.api");
    assert_ne!(pid_of(&record), leader);
    assert_eq!(record["restarts"], 0, "a manual start is not a failure: {record:#}");
}

#[test]
fn a_worker_orphaned_while_luna_was_down_is_stopped_at_the_next_start() {
    let mut luna = TestLuna::start_with(|home| {
        write_config(home, FAST_SUPERVISION);
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "grandchild.sh");
    });
    let leader = pid_of(&luna.wait_running("alpha.api"));
    let report = luna.get_json("/api/supervisor/services/alpha.api/troubleshoot");
    let worker = report["port_owner"]["pid"].as_u64().unwrap();

    luna.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    // The leader dies while Luna is down; its worker lives on in the process group.
    // SAFETY: kill(2) on a pid this test started (through luna).
    unsafe { libc::kill(leader as i32, libc::SIGKILL) };
    crate::support::wait_until(Duration::from_secs(5), "the leader to die", || !is_alive(leader));
    assert!(is_alive(worker));

    let luna = TestLuna::start_in(luna.into_home());
    let record = luna.wait_running("alpha.api");

    assert!(!is_alive(worker), "the orphaned worker was stopped");
    let report = luna.get_json("/api/supervisor/services/alpha.api/troubleshoot");
    assert_ne!(report["port_owner"]["pid"].as_u64(), Some(worker));
    assert_ne!(pid_of(&record), leader);
}
