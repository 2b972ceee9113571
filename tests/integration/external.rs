//! External services against a real Docker engine and a real local registry: install with a
//! real pull, health, logs, the UI route, stop/start, auto-start, uninstall with and without
//! data, bad input, Luna restarts, and containers Luna did not create.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::docker::{Leftovers, docker, image, inspect, registry, unique, write_service};
use crate::support::luna::{TestLuna, luna_command};
use crate::support::{free_port, raw_http};

fn cli(luna: &TestLuna, args: &[&str]) -> Output {
    luna_command(luna.path()).args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn post_json(luna: &TestLuna, path: &str, body: &Value) -> (u16, Value) {
    let text = body.to_string();
    let response = raw_http::request_unix_with_body(
        &luna.api_socket(),
        "POST",
        path,
        &[("Content-Type", "application/json")],
        &text,
    );
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

fn installed(luna: &TestLuna, name: &str) -> Value {
    luna.get_json(&format!("/api/external-services/{name}"))["installed"].clone()
}

#[test]
fn a_service_is_installed_used_stopped_restarted_and_uninstalled() {
    let name = unique("wc-life");
    let container = format!("luna-{name}");
    let volume = format!("luna-{name}-data");
    // A tag of its own, so the install really pulls it from the registry.
    let tagged = format!("{}/luna-test/busybox:{name}", registry());
    let mut leftovers =
        Leftovers { containers: vec![container.clone()], volumes: vec![volume.clone()], images: Vec::new() };
    assert!(docker(&["tag", &image(), &tagged]).status.success());
    assert!(docker(&["push", &tagged]).status.success());
    assert!(docker(&["rmi", &tagged]).status.success());
    leftovers.images.push(tagged.clone());
    let luna = TestLuna::start_with(|home| write_service(home, &name, &tagged));
    let port = free_port();

    let list = stdout(&cli(&luna, &["infra", "list"]));
    assert!(list.lines().any(|line| line.starts_with(&name) && line.contains("available")), "{list}");

    let install = cli(&luna, &["infra", "install", &name, "--set", &format!("port={port}")]);
    let progress = String::from_utf8_lossy(&install.stderr);
    assert!(install.status.success(), "{progress}\n{}", luna.log());
    assert!(
        progress.contains("Pulling from luna-test/busybox") && progress.contains("Downloaded newer image"),
        "{progress}"
    );
    let shown = stdout(&install);
    assert!(shown.contains("running") && shown.contains("********"), "secrets are masked: {shown}");

    let view = installed(&luna, &name);
    assert_eq!(view["status"], "running", "{view:#}");
    assert_eq!(view["enabled"], true);
    assert_eq!(view["exports"]["WEBCHECK_URL"], format!("http://127.0.0.1:{port}/"));
    assert_eq!(view["exports"]["WEBCHECK_TOKEN"], "********");
    let revealed = luna.get_json(&format!("/api/external-services/{name}?reveal=true"))["installed"].clone();
    let token = revealed["config"]["token"].as_str().unwrap();
    assert_eq!(token.len(), 24, "a generated token");
    assert_eq!(
        inspect(&container, "{{.Config.Labels}}").map(|labels| labels.contains("dev.luna.managed:true")),
        Some(true)
    );
    let env = inspect(&container, "{{json .Config.Env}}").unwrap();
    assert!(env.contains(&format!("TOKEN={token}")), "{env}");

    // Logs, the web UI on its own origin, the registry file.
    let logs = stdout(&cli(&luna, &["infra", "logs", &name]));
    assert!(logs.contains(&format!("webcheck ready on {port}")), "{logs}");
    let page = luna.app_get(&name, "/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body.trim(), "hello from webcheck");
    let registry_file = luna.path().join(".luna/external_services.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&registry_file).unwrap().permissions().mode() & 0o777, 0o600);

    // Stop, start, auto-start off and on: the same container throughout.
    let id = inspect(&container, "{{.Id}}").unwrap();
    assert!(stdout(&cli(&luna, &["infra", "stop", &name])).contains("stopped"));
    assert_eq!(inspect(&container, "{{.State.Running}}").as_deref(), Some("false"));
    assert_eq!(luna.get_json(&format!("/api/external-services/{name}/status"))["status"], "stopped");
    assert_eq!(luna.app_get(&name, "/").status, 502);
    assert!(stdout(&cli(&luna, &["infra", "start", &name])).contains("running"));
    assert_eq!(installed(&luna, &name)["status"], "running");
    assert_eq!(inspect(&container, "{{.HostConfig.RestartPolicy.Name}}").as_deref(), Some("unless-stopped"));
    assert!(stdout(&cli(&luna, &["infra", "disable", &name])).contains("auto-start off"));
    assert_eq!(inspect(&container, "{{.HostConfig.RestartPolicy.Name}}").as_deref(), Some("no"));
    assert!(stdout(&cli(&luna, &["infra", "enable", &name])).contains("auto-start on"));
    assert_eq!(inspect(&container, "{{.HostConfig.RestartPolicy.Name}}").as_deref(), Some("unless-stopped"));
    assert!(stdout(&cli(&luna, &["infra", "restart", &name])).contains("running"));
    assert_eq!(inspect(&container, "{{.Id}}"), Some(id));

    // Uninstall keeps the data unless asked; the route goes away.
    let details = luna.get_json(&format!("/api/external-services/{name}"));
    assert_eq!(details["data_volumes"], json!([volume]));
    let done = stdout(&cli(&luna, &["infra", "uninstall", &name]));
    assert!(done.contains(&format!("kept volumes (data): {volume}")), "{done}");
    assert_eq!(inspect(&container, "{{.Id}}"), None);
    assert!(inspect(&volume, "{{.Name}}").is_some());
    assert!(installed(&luna, &name).is_null());
    // The app's origin goes (no longer a dead upstream: no such app).
    crate::support::wait_until(Duration::from_secs(5), "the UI route to go", || luna.app_get(&name, "/").status == 404);

    let (status, _) =
        post_json(&luna, &format!("/api/external-services/{name}/install"), &json!({"config": {"port": port}}));
    assert_eq!(status, 201);
    let (status, removed) =
        post_json(&luna, &format!("/api/external-services/{name}/uninstall"), &json!({"remove_data": true}));
    assert_eq!(status, 200, "{removed:#}");
    assert_eq!(removed["removed_volumes"], json!([volume]));
    assert!(inspect(&volume, "{{.Name}}").is_none(), "the data volume is gone");
}

#[test]
fn bad_input_is_refused_before_anything_is_created() {
    let name = unique("wc-bad");
    let missing = unique("wc-missing");
    let unreachable = unique("wc-offline");
    let containers = [&name, &missing, &unreachable].map(|service| format!("luna-{service}"));
    let _leftovers = Leftovers { containers: containers.to_vec(), volumes: Vec::new(), images: Vec::new() };
    let closed = free_port();
    let luna = TestLuna::start_with(|home| {
        write_service(home, &name, &image());
        write_service(home, &missing, &format!("{}/luna-test/no-such-image:1", registry()));
        write_service(home, &unreachable, &format!("127.0.0.1:{closed}/luna-test/busybox:1"));
        let broken = home.join("external_services/broken");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(
            broken.join("service.json"),
            r#"{"kind": "docker", "name": "broken", "image": "x", "env": {"A": "{{nope}}"}}"#,
        )
        .unwrap();
    });
    let install = |service: &str, config: Value| {
        post_json(&luna, &format!("/api/external-services/{service}/install"), &json!({ "config": config }))
    };

    // Every form problem, named.
    let (status, body) = install(&name, json!({"greeting": "Not Lower", "colour": "red"}));
    assert_eq!(status, 400, "{body:#}");
    let detail = body["detail"].as_str().unwrap();
    for expected in ["port: required", "greeting: does not match", "colour: not a field"] {
        assert!(detail.contains(expected), "{expected}: {detail}");
    }
    let (status, body) = install(&name, json!({"port": 80}));
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("port: must be at least 1024"));

    // A port in use is refused before Docker is asked for anything.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let (status, body) = install(&name, json!({"port": taken_port}));
    assert_eq!(status, 409, "{body:#}");
    assert!(body["detail"].as_str().unwrap().contains(&format!("port {taken_port} is in use")), "{body:#}");
    assert_eq!(inspect(&containers[0], "{{.Id}}"), None);

    // Pull failures say why and leave no container.
    let (status, body) = install(&missing, json!({"port": free_port()}));
    assert_eq!(status, 502, "{body:#}");
    assert!(body["detail"].as_str().unwrap().contains("no-such-image"), "{body:#}");
    assert_eq!(inspect(&containers[1], "{{.Id}}"), None);
    let (status, body) = install(&unreachable, json!({"port": free_port()}));
    assert_eq!(status, 502, "{body:#}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("127.0.0.1:{closed}")) && detail.contains("refused"), "{detail}");
    assert_eq!(inspect(&containers[2], "{{.Id}}"), None);

    // A broken definition is listed as such; the others still work.
    let list = luna.get_json("/api/external-services/available");
    let broken = list.as_array().unwrap().iter().find(|entry| entry["name"] == "broken").unwrap();
    assert!(broken["problem"].as_str().unwrap().contains("{{nope}}"), "{broken:#}");
    let (status, body) = install("broken", json!({}));
    assert_eq!(status, 409, "{body:#}");
    // An uploaded definition is checked like one on disk.
    let legacy = json!({"kind": "shell", "name": "legacy", "start_cmd": "docker start x"});
    let (status, body) =
        post_json(&luna, "/api/external-services/upload", &json!({"name": "legacy", "service": legacy}));
    assert_eq!(status, 201, "{body:#}");
    assert!(body["problem"].as_str().unwrap().starts_with("UNSAFE"), "shell definitions are marked and off: {body:#}");
    assert_eq!(install("legacy", json!({})).0, 409);
    let bad = json!({"kind": "docker", "name": "upload-bad", "image": "x", "command": ["{{missing}}"]});
    let (status, body) =
        post_json(&luna, "/api/external-services/upload", &json!({"name": "upload-bad", "service": bad}));
    assert_eq!(status, 400, "{body:#}");
    assert!(body["detail"].as_str().unwrap().contains("{{missing}}"), "{body:#}");
    assert!(!luna.path().join("external_services/upload-bad").exists(), "a refused upload writes nothing");

    let (status, body) = install(&name, json!({"port": free_port()}));
    assert_eq!(status, 201, "{body:#}\n{}", luna.log());
    let (status, _) =
        post_json(&luna, &format!("/api/external-services/{name}/uninstall"), &json!({"remove_data": true}));
    assert_eq!(status, 200);
}

#[test]
fn luna_restarts_leave_containers_running_and_never_touch_foreign_ones() {
    let name = unique("wc-adopt");
    let container = format!("luna-{name}");
    let by_hand = unique("luna-wc-byhand");
    let squatter = unique("wc-squat");
    let _leftovers = Leftovers {
        containers: vec![container.clone(), by_hand.clone(), format!("luna-{squatter}")],
        volumes: vec![format!("luna-{name}-data")],
        images: Vec::new(),
    };
    // Containers someone made by hand: one unrelated, one with the name a service would use.
    for hand_made in [by_hand.as_str(), &format!("luna-{squatter}")] {
        let output = docker(&["run", "-d", "--name", hand_made, "--network", "host", &image(), "sleep", "300"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let mut luna = TestLuna::start_with(|home| {
        write_service(home, &name, &image());
        write_service(home, &squatter, &image());
    });
    let (status, body) =
        post_json(&luna, &format!("/api/external-services/{name}/install"), &json!({"config": {"port": free_port()}}));
    assert_eq!(status, 201, "{body:#}");
    let started_at = inspect(&container, "{{.State.StartedAt}}").unwrap();

    // The squatter's name is taken by a container Luna did not create: refused, untouched.
    let (status, body) = post_json(
        &luna,
        &format!("/api/external-services/{squatter}/install"),
        &json!({"config": {"port": free_port()}}),
    );
    assert_eq!(status, 409, "{body:#}");
    assert!(body["detail"].as_str().unwrap().contains("not created by Luna"), "{body:#}");

    luna.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(inspect(&container, "{{.State.Running}}").as_deref(), Some("true"), "Luna's exit leaves it running");
    let luna = TestLuna::start_in(luna.into_home());
    let view = installed(&luna, &name);
    assert_eq!(view["status"], "running", "{view:#}");
    assert_eq!(inspect(&container, "{{.State.StartedAt}}"), Some(started_at), "not restarted");
    let status = stdout(&cli(&luna, &["status"]));
    assert!(status.contains("1 installed, 1 running"), "{status}");
    for hand_made in [by_hand.as_str(), &format!("luna-{squatter}")] {
        assert_eq!(inspect(hand_made, "{{.State.Running}}").as_deref(), Some("true"), "{hand_made} untouched");
    }
    let (status, _) =
        post_json(&luna, &format!("/api/external-services/{name}/uninstall"), &json!({"remove_data": true}));
    assert_eq!(status, 200);
    assert_eq!(inspect(&by_hand, "{{.State.Running}}").as_deref(), Some("true"));
}

#[test]
fn shell_definitions_run_only_when_allowed_and_never_see_form_values_on_a_command_line() {
    let legacy = json!({
        "kind": "shell", "name": "legacy",
        "install_cmd": "cp {config_file} installed.json",
        "start_cmd": "touch legacy-running",
        "stop_cmd": "rm -f legacy-running",
        "health_check_cmd": "ls",
        "health_check_expected": "legacy-running",
        "uninstall_cmd": "rm -f installed.json"
    });
    let form = json!({"fields": [{"name": "note", "type": "text", "required": true}]});
    let luna = TestLuna::start_with(|home| {
        std::fs::create_dir_all(home.join("config")).unwrap();
        std::fs::write(home.join("config/luna.toml"), "[external_services]\nallow_shell = true\n").unwrap();
        let dir = home.join("external_services/legacy");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("service.json"), legacy.to_string()).unwrap();
        std::fs::write(dir.join("config-form.json"), form.to_string()).unwrap();
    });
    let home = luna.path();
    let (status, body) =
        post_json(&luna, "/api/external-services/legacy/install", &json!({"config": {"note": "$(touch pwned)"}}));
    assert_eq!(status, 201, "{body:#}\n{}", luna.log());
    assert_eq!(body["status"], "stopped");
    let copied: Value = serde_json::from_slice(&std::fs::read(home.join("installed.json")).unwrap()).unwrap();
    assert_eq!(copied["note"], "$(touch pwned)", "the value reached the command through the config file");
    assert!(!home.join("pwned").exists(), "and was never run");
    use std::os::unix::fs::PermissionsExt;
    let config = home.join("external_services/legacy/config.json");
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);

    assert!(stdout(&cli(&luna, &["infra", "start", "legacy"])).contains("running"));
    assert!(home.join("legacy-running").exists());
    assert!(stdout(&cli(&luna, &["infra", "stop", "legacy"])).contains("stopped"));
    let (status, body) = post_json(&luna, "/api/external-services/legacy/enable", &json!({}));
    assert_eq!(status, 409, "no enable_startup_cmd: {body:#}");
    let (status, _) = post_json(&luna, "/api/external-services/legacy/uninstall", &json!({}));
    assert_eq!(status, 200);
    assert!(!home.join("installed.json").exists() && !config.exists());
}
