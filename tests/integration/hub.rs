//! The Hub in Chromium (`tests/browser/hub.mjs`), against the real binary with the stand-in
//! GitHub, the `hello` extension, a real Docker engine and the local registry. Each journey
//! is checked twice: in what the page showed, and in Luna's own state through the API.
//! Screenshots of every page go to `target/hub-screenshots/` for a person to look at.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::docker::{Leftovers, docker, image, inspect, registry, unique, write_service};
use crate::support::extension::{FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::luna::TestLuna;
use crate::support::mcp::{self, STATELESS, tool_names};
use crate::support::{free_port, raw_http};

fn ada() -> GithubUser {
    GithubUser { id: 4242, login: "ada".into(), orgs: vec![] }
}

/// Luna with GitHub login (ada allowed) and whatever `prepare` adds.
fn luna_for_ada(more_config: &str, prepare: impl FnOnce(&Path)) -> (StandInGithub, TestLuna) {
    let github = StandInGithub::start(ada());
    let config = github.config("allowed_users = [\"ada\"]") + more_config;
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        prepare(home);
    });
    (github, luna)
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/hub-screenshots")
}

/// Runs a journey of `hub.mjs`; its summary (the last JSON line it printed).
pub fn journey(luna: &TestLuna, name: &str, extra: &[&str]) -> Value {
    let chromium = std::env::var("LUNA_TEST_CHROMIUM").expect(
        "LUNA_TEST_CHROMIUM is not set: run the tests with scripts/test.sh, or eval \"$(scripts/test-clients.sh)\"",
    );
    let output = std::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/hub.mjs"))
        .args(["--luna", &format!("http://{}", luna.address), "--journey", name, "--chromium", &chromium])
        .arg("--shots")
        .arg(screenshots())
        .args(extra)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Value =
        stdout.lines().filter_map(|line| serde_json::from_str(line).ok()).next_back().unwrap_or_else(|| {
            panic!("hub.mjs printed no summary:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr))
        });
    assert!(output.status.success(), "{summary:#}\n{}\n{}", String::from_utf8_lossy(&output.stderr), luna.log());
    assert_eq!(summary["console_errors"], serde_json::json!([]), "{summary:#}");
    summary
}

#[test]
fn in_chromium_a_person_logs_in_switches_a_tool_off_follows_a_process_live_and_revokes_a_session() {
    let (github, luna) = luna_for_ada("", crate::mcp::add_hello);
    luna.wait_running("hello.worker");
    let url = format!("http://{}/api/mcp", luna.address);
    let token = crate::support::luna::luna_command(luna.path()).arg("token").output().unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    assert_eq!(tool_names(&mcp::sdk(&url, STATELESS, Some(&token), &["list"]).json), ["HELLO_GET_greeting"]);

    let summary = journey(&luna, "extensions", &[]);

    // The login came back to the page asked for.
    assert_eq!(summary["landed"], "/extensions/hello?tab=tools", "{summary:#}");
    assert_eq!(github.logins(), 2, "one login per browser: {summary:#}");
    // The dashboard shows `luna doctor`'s checks, and runs them again on request.
    assert_eq!(summary["luna_check"], "ok", "{summary:#}");
    assert_eq!(summary["doctor_runs"], 2, "{summary:#}");
    // The tool switched off is gone from what MCP clients see.
    assert_eq!(summary["tool"], "HELLO_GET_greeting");
    assert_eq!(
        (summary["tool_enabled_before"].clone(), summary["tool_enabled_after"].clone()),
        ("true".into(), "false".into())
    );
    assert_eq!(tool_names(&mcp::sdk(&url, STATELESS, Some(&token), &["list"]).json), Vec::<String>::new());
    // A stop made elsewhere showed on the open page, which never reloaded; the start from
    // the page brought a new line into the followed log.
    assert_eq!(summary["outside_stop_status"], 200, "{summary:#}");
    assert_eq!(summary["live_stopped"], true);
    assert_eq!(summary["new_log_line"], true);
    assert_eq!(summary["reloaded"], false, "{summary:#}");
    assert_eq!(luna.get_json("/api/supervisor/services")["services"]["hello.worker"]["status"], "running");
    // The other browser's session is gone, this one is marked and kept.
    assert_eq!((summary["sessions_before"].clone(), summary["sessions_after"].clone()), (2.into(), 1.into()));
    assert_eq!(summary["current_marked"], 1);
    assert_eq!(summary["revoked_session_me_status"], 401);
    assert_eq!(summary["activity_revocations"], 1, "the audit log shows it: {summary:#}");
    // Every page fits a phone's width.
    assert_eq!(summary["overflowing"], serde_json::json!([]), "{summary:#}");
    for page in
        ["dashboard", "extensions", "extensions-hello", "infrastructure", "mcp", "sessions", "activity", "settings"]
    {
        for size in ["1280x800", "390x844"] {
            assert!(screenshots().join(format!("{page}-{size}.png")).is_file(), "{page}-{size}.png");
        }
    }
}

#[test]
fn in_chromium_a_service_is_installed_from_its_form_watched_stopped_and_uninstalled_with_its_data() {
    let name = unique("wc-hub");
    let container = format!("luna-{name}");
    let volume = format!("luna-{name}-data");
    let tagged = format!("{}/luna-test/busybox:{name}", registry());
    let mut leftovers =
        Leftovers { containers: vec![container.clone()], volumes: vec![volume.clone()], images: Vec::new() };
    assert!(docker(&["tag", &image(), &tagged]).status.success());
    assert!(docker(&["push", &tagged]).status.success());
    assert!(docker(&["rmi", &tagged]).status.success());
    leftovers.images.push(tagged.clone());
    // Only Docker's events can tell the page of a container stopped by hand in time.
    let slow_checks = "\n[external_services]\nhealth_interval_secs = 600\n";
    let (_github, luna) = luna_for_ada(slow_checks, |home| write_service(home, &name, &tagged));
    let port = free_port().to_string();

    let summary = journey(&luna, "infrastructure", &["--service", &name, "--container", &container, "--port", &port]);

    // The bad port was refused on its field, before anything was sent.
    assert_eq!(summary["invalid_port_message"], "must be at least 1024", "{summary:#}");
    assert_eq!(summary["invalid_port_marked"], "true");
    assert_eq!(summary["installs_after_invalid"], 0);
    // Progress was shown while it installed (the pull from the registry among the steps).
    let steps = summary["progress_steps"].to_string();
    assert!(summary["progress_steps_seen"].as_u64().unwrap() >= 1 && steps.contains("pulling"), "{summary:#}");
    // Its UI answered through Luna.
    assert_eq!(summary["ui_status"], 200, "{summary:#}");
    assert_eq!(summary["ui_body"], "hello from webcheck");
    assert_eq!(summary["ui_origin"], format!("http://{}", luna.app_host(&name)), "on its own origin");
    // Secrets masked until revealed.
    assert_eq!(summary["token_masked"], true);
    assert_eq!(summary["token_revealed_length"], 24);
    // Stopped by hand: shown at once, with the banner, whose Start worked.
    assert_eq!(summary["hand_stop_seen"], true, "{summary:#}");
    assert!(summary["banner"].as_str().unwrap().contains("is enabled but stopped"), "{summary:#}");
    assert_eq!(summary["banner_start_worked"], true, "{summary:#}");
    // Uninstalled with its data: container and volume gone, banner gone.
    assert_eq!(summary["volumes_offered"], volume, "{summary:#}");
    assert_eq!(summary["uninstalled"], true);
    assert_eq!(summary["banner_after"], 0);
    assert_eq!(inspect(&container, "{{.Id}}"), None, "container removed");
    assert_eq!(inspect(&volume, "{{.Name}}"), None, "data volume removed");
    let installed = raw_http::request_unix(&luna.api_socket(), "GET", "/api/external-services/installed", &[]);
    assert_eq!(installed.body, "{}");
    assert!(screenshots().join("infrastructure-banner-390x844.png").is_file());
}

/// A tools-only extension `name` (its one tool answers `answer`), as GitHub serves it.
fn tools_tree(name: &str, answer: &str) -> crate::support::github_repos::Tree {
    let upper = name.to_uppercase();
    let tools = format!(
        "def {upper}_GET_answer() -> str:\n    \"\"\"The answer.\"\"\"\n    return \"{answer}\"\n\n\nTOOLS = [{upper}_GET_answer]\n"
    );
    crate::support::github_repos::Tree::from([
        ("config.json".to_string(), format!(r#"{{"name": "{name}", "version": "{answer}"}}"#).into_bytes()),
        (format!("tools/{name}_tools.py"), tools.into_bytes()),
        (
            "tools/tool_config.json".to_string(),
            format!(r#"{{"{upper}_GET_answer": {{"enabled_in_mcp": true}}}}"#).into_bytes(),
        ),
    ])
}

#[test]
fn in_chromium_a_person_sets_a_key_applies_a_drafted_queue_reads_a_readme_and_regenerates_the_token() {
    let repos = crate::support::github_repos::StandInRepos::start();
    repos.push("octo/weather", false, &["main"], tools_tree("weather", "w1"));
    repos.push("octo/almanac", false, &["main"], tools_tree("almanac", "a1"));
    let github = StandInGithub::start_with(ada(), repos.router());
    let config = github.config("allowed_users = [\"ada\"]");
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        crate::mcp::add_hello(home);
        crate::support::extension::add_secretive(home);
        std::fs::write(
            home.join("extensions/secretive/README.md"),
            "# Secretive\n\n<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">\n\n\
             [click](javascript:alert(1))\n",
        )
        .unwrap();
        crate::support::extension::ExtensionFixture::new(home, "old");
    });
    let install = crate::support::luna::luna_command(luna.path())
        .args(["ext", "install", "github:octo/almanac"])
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
    let newer = repos.push("octo/almanac", false, &["main"], tools_tree("almanac", "a2"));
    let secretive_pid = luna.wait_running("secretive_tools")["pid"].clone();
    let old_token = crate::support::luna::luna_command(luna.path()).arg("token").output().unwrap();
    let old_token = String::from_utf8(old_token.stdout).unwrap().trim().to_string();
    let zip_path = luna.path().join("tides.zip");
    {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        for (path, contents) in tools_tree("tides", "t1") {
            zip.start_file(format!("tides/{path}"), zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(&contents).unwrap();
        }
        zip.finish().unwrap();
    }

    let summary = journey(&luna, "packages", &["--zip", zip_path.to_str().unwrap()]);

    assert_eq!(summary["key_set_before"], "false", "{summary:#}");
    assert_eq!(summary["key_masked"], "wk-…d1e", "{summary:#}");
    assert_eq!(summary["key_page_shows_value"], false);
    assert!(summary["restart_offered"].as_str().unwrap().contains("secretive_tools"), "{summary:#}");
    let pending: Vec<String> = serde_json::from_value(summary["pending"].clone()).unwrap();
    assert_eq!(pending.len(), 5, "{summary:#}");
    assert_eq!(pending[..3], ["Install weather from github:octo/weather", "Update almanac", "Remove old"]);
    assert!(pending[3].starts_with("Install tides from upload:"), "{summary:#}");
    assert_eq!(pending[4], "Disable hello");
    assert_eq!(summary["pending_after_change"], serde_json::json!(pending[..4]));
    assert_eq!(summary["pending_after_revert"], serde_json::json!(pending));
    assert_eq!(summary["apply_outcome"], "Applied: everything runs again.", "{summary:#}");
    let progress = summary["apply_progress"].as_str().unwrap();
    for step in ["removing old (1/4)", "installing weather (2/4)", "installing tides (3/4)", "updating almanac (4/4)"] {
        assert!(progress.contains(step), "{step}: {progress}");
    }
    assert_eq!(summary["hello_enabled_after"], "false");
    assert_eq!(summary["pending_after_apply"], 0);

    // Luna's own state agrees.
    let extensions = luna.get_json("/api/supervisor/extensions");
    let names: Vec<&str> = extensions.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["almanac", "hello", "secretive", "tides", "weather"]);
    assert_eq!(extensions[0]["commit"], newer.as_str());
    assert_eq!(extensions[1]["enabled"], false);
    assert!(luna.process("hello_tools").is_none());
    luna.wait_running("weather_tools");
    luna.wait_running("tides_tools");
    assert_ne!(luna.wait_running("secretive_tools")["pid"], secretive_pid, "restarted from the Keys page");
    let url = format!("http://{}/api/mcp", luna.address);
    let token = crate::support::luna::luna_command(luna.path()).arg("token").output().unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let key = mcp::sdk(&url, STATELESS, Some(&token), &["call", "SECRETIVE_GET_key", "{}"]);
    assert_eq!(key.json["content"][0]["text"], "wk-live-4f8a9b2c7d1e");
    assert!(!luna.log().contains("wk-live-4f8a9b2c7d1e"));
    assert_eq!(summary["readme_heading"], "Secretive");
    assert_eq!(summary["readme_dangerous"], 0, "raw HTML and script links are not rendered");
    // The regenerated token is the one `luna token` prints and MCP takes; the old one is refused.
    assert_eq!(summary["new_token"].as_str(), Some(token.as_str()), "{summary:#}");
    assert_ne!(token, old_token);
    let bearer = format!("Bearer {old_token}");
    let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let refused = raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, "{}");
    assert_eq!(refused.status, 401, "{}", refused.body);
}

#[test]
fn in_chromium_a_person_sees_an_extensions_prompts_and_resources_and_switches_one_off() {
    let (_github, luna) = luna_for_ada("", |home| crate::mcp_passthrough::add_everything(home, "everything"));
    luna.wait_running("everything_tools");
    let summary = journey(&luna, "offers", &[]);
    assert_eq!(
        summary["offer_groups"],
        serde_json::json!(["Prompts", "Resources", "Resource templates"]),
        "{summary:#}"
    );
    // On until switched off; then gone from what MCP clients see.
    assert_eq!(
        (summary["offer_enabled_before"].clone(), summary["offer_enabled_after"].clone()),
        ("true".into(), "false".into())
    );
    assert_eq!(
        summary["offered_summary"], "16 tools, 3 prompts, 3 resources and 1 resource template offered.",
        "{summary:#}"
    );
    let token = crate::support::luna::luna_command(luna.path()).arg("token").output().unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let url = format!("http://{}/api/mcp", luna.address);
    let prompts = mcp::sdk(&url, STATELESS, Some(&token), &["prompts"]);
    let names: Vec<_> =
        prompts.json["prompts"].as_array().unwrap().iter().map(|prompt| prompt["name"].clone()).collect();
    assert!(!names.contains(&"test_simple_prompt".into()), "{names:?}");
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn in_chromium_a_member_sees_the_hub_read_only_and_still_opens_an_extension_ui() {
    let grace = GithubUser { id: 7, login: "grace".into(), orgs: vec!["lunatics".into()] };
    let github = StandInGithub::start(grace);
    let config = github.config("allowed_users = [\"ada\"]\nallowed_orgs = [\"lunatics\"]");
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        crate::mcp::add_hello(home);
    });
    luna.wait_running("hello_ui");

    let summary = journey(&luna, "member", &[]);

    assert_eq!(summary["role_shown"], "member", "{summary:#}");
    assert_eq!(summary["keys_in_nav"], 0);
    assert_eq!(summary["install_offered"], 0);
    for control in ["enable_switch_disabled", "tool_switch_disabled", "regenerate_disabled"] {
        assert_eq!(summary[control], true, "{control}: {summary:#}");
    }
    assert_eq!(summary["reveal_offered"], 0);
    assert_eq!(summary["hello_ui_status"], 200);
    let hello = luna.get_json("/api/supervisor/extensions");
    assert_eq!(hello[0]["enabled"], true, "nothing changed: {hello:#}");
}

#[test]
fn in_chromium_a_person_finds_and_installs_an_extension_and_a_service_from_the_store() {
    let name = unique("wc-store");
    let container = format!("luna-{name}");
    let tagged = format!("{}/luna-test/busybox:{name}", registry());
    let mut leftovers = Leftovers {
        containers: vec![container.clone()],
        volumes: vec![format!("luna-{name}-data")],
        images: Vec::new(),
    };
    assert!(docker(&["tag", &image(), &tagged]).status.success());
    assert!(docker(&["push", &tagged]).status.success());
    assert!(docker(&["rmi", &tagged]).status.success());
    leftovers.images.push(tagged.clone());

    // The registry's two entries come from GitHub, pinned: an extension, and a service's
    // definition whose image is in the local registry.
    let repos = crate::support::github_repos::StandInRepos::start();
    let weather = repos.push("octo/weather", false, &["main"], crate::packages::weather("v1"));
    let staged = tempfile::tempdir().unwrap();
    write_service(staged.path(), &name, &tagged);
    let definition_dir = staged.path().join("external_services").join(&name);
    let definition: crate::support::github_repos::Tree = ["service.json", "config-form.json"]
        .into_iter()
        .map(|file| (file.to_string(), std::fs::read(definition_dir.join(file)).unwrap()))
        .collect();
    let service = repos.push("octo/webcheck", false, &["main"], definition);
    let mut service_entry = serde_json::json!({
        "id": name, "name": "Web check", "type": "external_service", "category": "network",
        "description": "A small web server to watch", "author": "Octo", "version": "1",
        "source": { "type": "github", "repo": "octo/webcheck", "commit": service,
                    "sha256": repos.archive_sha256("octo/webcheck", &service) },
        "has_ui": true, "provides_vars": ["WEBCHECK_URL", "WEBCHECK_TOKEN"],
    });
    service_entry["tags"] = serde_json::json!(["test"]);
    let extension_entry = crate::store::extension_entry(
        "weather",
        "octo/weather",
        &weather,
        &repos.archive_sha256("octo/weather", &weather),
    );
    let store = crate::support::registry::StandInRegistry::start(
        &serde_json::json!({ "addons": [extension_entry, service_entry] }),
    );

    let github = StandInGithub::start_with(ada(), repos.router());
    let config = format!("{}[store]\nregistries = [\"{}\"]\n", github.config("allowed_users = [\"ada\"]"), store.url());
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), StandInGithub::env_file()).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        crate::store::bundle_postgres(home);
    });

    let summary =
        journey(&luna, "store", &["--store-extension", "weather", "--store-service", &name, "--store-search", "sky"]);

    let all: Vec<String> = serde_json::from_value(summary["all_cards"].clone()).unwrap();
    assert_eq!(all.len(), 3, "postgres (bundled), weather and the service: {summary:#}");
    assert_eq!(summary["search_cards"], serde_json::json!(["weather"]), "the search narrowed the grid: {summary:#}");
    let filtered: Vec<String> = serde_json::from_value(summary["filtered_cards"].clone()).unwrap();
    assert!(filtered.contains(&name) && filtered.contains(&"postgres".to_string()), "{summary:#}");
    assert!(!filtered.contains(&"weather".to_string()), "services only: {summary:#}");
    assert!(summary["detail_dependencies"].to_string().contains("PostgreSQL"), "{summary:#}");
    assert_eq!(summary["extension_installed"], true, "{summary:#}");
    assert_eq!(summary["extension_card_installed"], true, "{summary:#}");
    let values = summary["service_values"].to_string();
    assert!(values.contains("WEBCHECK_URL") && values.contains("WEBCHECK_TOKEN"), "{summary:#}");
    assert_eq!(summary["service_values_masked"], true, "{summary:#}");
    assert_eq!(summary["service_card_installed"], true, "{summary:#}");

    // Luna agrees: the extension runs its tool host, the container runs.
    let installed = luna.get_json("/api/addons?installed=true");
    let ids: Vec<&str> =
        installed["addons"].as_array().unwrap().iter().map(|addon| addon["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{installed:#}");
    assert!(ids.contains(&"weather") && ids.contains(&name.as_str()), "{installed:#}");
    assert_eq!(inspect(&container, "{{.State.Running}}").as_deref(), Some("true"));
    assert!(screenshots().join("store-1280x800.png").is_file() || screenshots().join("store.png").is_file());
}
