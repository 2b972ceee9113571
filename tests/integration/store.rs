//! The Addon Store through the API and the CLI: what ships with Luna and what a registry on
//! loopback adds, searched, filtered and sorted; a broken entry named and the rest listed;
//! an unreachable registry shown from its cached copy; installs from pinned sources, a wrong
//! SHA-256 refused. (The Hub's Store page is in `hub.rs`.)

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::support::extension::{FAST_SUPERVISION, write_config_with};
use crate::support::github_repos::StandInRepos;
use crate::support::luna::{TestLuna, luna_command};
use crate::support::registry::StandInRegistry;

/// An extension entry pinned to `commit` of `repo` with archive digest `sha256`.
pub fn extension_entry(id: &str, repo: &str, commit: &str, sha256: &str) -> Value {
    json!({
        "id": id, "name": "Weather", "type": "extension", "category": "productivity",
        "description": "Today's forecast for a city", "author": "Octo", "version": "1.0",
        "source": { "type": "github", "repo": repo, "commit": commit, "sha256": sha256 },
        "tags": ["forecast", "sky"], "tool_count": 1, "dependencies": ["postgres"],
        "tools": [{ "name": "WEATHER_GET_forecast", "description": "Today's forecast for a city." }],
        "added": "2026-11-01",
    })
}

/// A second extension that needs a key and has a UI (for filters), never installed here.
fn journal_entry() -> Value {
    json!({
        "id": "journal", "name": "Journal", "type": "extension", "category": "productivity",
        "description": "A diary the agents write to", "author": "Luna Team", "version": "2",
        "source": { "type": "github", "repo": "luna-addons/journal", "commit": "1".repeat(40), "sha256": "2".repeat(64) },
        "has_ui": true, "required_secrets": ["OPENAI_API_KEY"], "added": "2026-12-01",
    })
}

/// Copies the bundled PostgreSQL definition into `home` (what ships with Luna).
pub fn bundle_postgres(home: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("external_services/postgres");
    let to = home.join("external_services/postgres");
    std::fs::create_dir_all(&to).unwrap();
    for file in ["service.json", "config-form.json"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
}

fn luna_with(repos: &StandInRepos, registries: &[String]) -> TestLuna {
    let list: Vec<String> = registries.iter().map(|url| format!("\"{url}\"")).collect();
    let config = format!("{}[store]\nregistries = [{}]\n", repos.config(), list.join(", "));
    TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, &config);
        bundle_postgres(home);
    })
}

fn ids(listing: &Value) -> Vec<String> {
    listing["addons"].as_array().unwrap().iter().map(|addon| addon["id"].as_str().unwrap().to_string()).collect()
}

fn cli(luna: &TestLuna, args: &[&str]) -> Output {
    luna_command(luna.path()).args(args).output().unwrap()
}

fn weather_repo(repos: &StandInRepos) -> (String, String) {
    let commit = repos.push("octo/weather", false, &["main"], crate::packages::weather("v1"));
    let sha256 = repos.archive_sha256("octo/weather", &commit);
    (commit, sha256)
}

#[test]
fn the_store_lists_what_ships_and_what_a_registry_adds_and_names_what_it_left_out() {
    let repos = StandInRepos::start();
    let (commit, sha256) = weather_repo(&repos);
    let mut unpinned = extension_entry("drifting", "octo/drifting", &commit, &sha256);
    unpinned["source"]["commit"] = "main".into();
    let registry = StandInRegistry::start(&json!({
        "addons": [extension_entry("weather", "octo/weather", &commit, &sha256), journal_entry(), unpinned, { "name": "nameless" }],
        "categories": [{ "id": "productivity", "name": "Productivity", "icon": "📝" }],
    }));
    let luna = luna_with(&repos, &[registry.url()]);

    let listing = luna.get_json("/api/addons");
    assert_eq!(ids(&listing), ["journal", "postgres", "weather"], "by name: {listing:#}");
    assert_eq!(listing["total"], 3);
    let postgres = &listing["addons"][1];
    assert_eq!(
        (postgres["registry"].as_str(), postgres["source"]["type"].as_str()),
        (Some("bundled"), Some("bundled"))
    );
    assert!(postgres["provides_vars"].as_array().unwrap().contains(&json!("DATABASE_URL")), "{postgres:#}");
    let states: Vec<&Value> =
        listing["registries"].as_array().unwrap().iter().map(|registry| &registry["state"]).collect();
    assert_eq!(states, [&json!("ok"), &json!("ok")], "{listing:#}");
    // The entries left out, each with the field at fault.
    let problems: Vec<(String, String)> = listing["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| (problem["entry"].as_str().unwrap().into(), problem["field"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        problems,
        [("addons[2] (drifting)".into(), "source.commit".into()), ("addons[3]".into(), String::new())]
    );
    assert_eq!(listing["problems"][0]["registry"], registry.url());

    // Search ranks an exact name first; filters combine; sorts order.
    let found = |query: &str| ids(&luna.get_json(&format!("/api/addons?{query}")));
    assert_eq!(found("q=weather"), ["weather"]);
    assert_eq!(found("q=postgres"), ["postgres", "weather"], "a dependency is found too");
    assert_eq!(found("q=DATABASE_URL"), ["postgres"], "what a service provides");
    assert_eq!(found("q=sky"), ["weather"], "tags");
    assert_eq!(found("type=extension&no_secrets=true"), ["weather"]);
    assert_eq!(found("type=extension&has_ui=true"), ["journal"]);
    assert_eq!(found("no_dependencies=true&category=database"), ["postgres"]);
    assert_eq!(found("sort=recent"), ["journal", "weather", "postgres"]);
    assert_eq!(found("sort=name_desc"), ["weather", "postgres", "journal"]);
    assert_eq!(found("installed=true"), Vec::<String>::new());

    // The detail view: dependencies with their state, the pinned source to read.
    let detail = luna.get_json("/api/addons/weather");
    assert_eq!(detail["dependency_status"], json!([{ "id": "postgres", "name": "PostgreSQL", "installed": false }]));
    assert_eq!(detail["source_url"], format!("https://github.com/octo/weather/tree/{commit}"));
    assert_eq!((detail["id"].as_str(), detail["installed"].as_bool()), (Some("weather"), Some(false)));
    assert_eq!(detail["tools"][0]["name"], "WEATHER_GET_forecast");
    let dependencies = luna.get_json("/api/addons/weather/dependencies");
    assert_eq!(dependencies["required"], json!(["postgres"]));
    assert_eq!(dependencies["missing"][0]["id"], "postgres", "{dependencies:#}");
    assert_eq!(ids(&luna.get_json("/api/addons/registry")), ["journal", "postgres", "weather"]);

    // The CLI is the same catalog.
    let output = cli(&luna, &["store", "search", "weather", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let searched: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(ids(&json!({ "addons": searched })), ["weather"], "a list of the addons found");
    let output = cli(&luna, &["store", "search"]);
    let (table, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(table.contains("postgres") && table.contains("3 of 3"), "{table}");
    assert!(stderr.contains("addons[2] (drifting) `source.commit`"), "the CLI says what was left out: {stderr}");
    let shown = String::from_utf8(cli(&luna, &["store", "show", "weather"]).stdout).unwrap();
    assert!(shown.contains("works with PostgreSQL (in the store)") && shown.contains(&commit), "{shown}");
    let missing = crate::support::raw_http::request_unix(&luna.api_socket(), "GET", "/api/addons/nosuch", &[]);
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[test]
fn a_store_install_checks_the_pinned_archive_and_installs_without_its_dependencies() {
    let repos = StandInRepos::start();
    let (commit, sha256) = weather_repo(&repos);
    let wrong = "0".repeat(64);
    let registry =
        StandInRegistry::start(&json!({ "addons": [extension_entry("weather", "octo/weather", &commit, &wrong)] }));
    let luna = luna_with(&repos, &[registry.url()]);

    let (status, refused) = luna.post("/api/addons/weather/install");
    assert_eq!(status, 400, "{refused:#}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("SHA-256 is {sha256}")) && detail.contains("refused"), "{detail}");
    assert!(!luna.path().join("extensions/weather").exists(), "nothing was installed");
    let staging = luna.path().join("extensions/.luna-staging");
    assert!(std::fs::read_dir(&staging).map_or(true, |mut entries| entries.next().is_none()), "staging is empty");

    // The registry fixes its digest; a refresh sees it, and the install goes through, though
    // its dependency (postgres) is not installed.
    registry.set(&json!({ "addons": [extension_entry("weather", "octo/weather", &commit, &sha256)] }).to_string());
    luna.get_json("/api/addons?refresh=true");
    let output = cli(&luna, &["store", "install", "weather"]);
    assert!(output.status.success(), "{}\n{}", String::from_utf8_lossy(&output.stderr), luna.log());
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains(&format!("weather: installed from github:octo/weather at {}", &commit[..12]))
    );
    let listed = luna.get_json("/api/addons/weather");
    assert_eq!(listed["installed"], true, "{listed:#}");
    assert_eq!(listed["dependency_status"][0]["installed"], false);
    let provenance: Value =
        serde_json::from_slice(&std::fs::read(luna.path().join("extensions/weather/.luna-source.json")).unwrap())
            .unwrap();
    assert_eq!(provenance["commit"], commit.as_str());
    let (status, again) = luna.post("/api/addons/weather/install");
    assert_eq!(status, 409, "installed already: {again:#}");
}

#[test]
fn an_unreachable_registry_is_shown_from_its_cached_copy_and_one_never_fetched_is_named() {
    let repos = StandInRepos::start();
    let (commit, sha256) = weather_repo(&repos);
    let mut registry =
        StandInRegistry::start(&json!({ "addons": [extension_entry("weather", "octo/weather", &commit, &sha256)] }));
    let never = format!("http://127.0.0.1:{}/registry.json", crate::support::free_port());
    let luna = luna_with(&repos, &[registry.url(), never.clone()]);
    assert_eq!(ids(&luna.get_json("/api/addons")), ["postgres", "weather"]);

    // The registry goes away; a Luna started afterwards has only the copy on disk.
    registry.stop();
    let luna = luna.restart_with(|_| {});
    let listing = luna.get_json("/api/addons");
    assert_eq!(ids(&listing), ["postgres", "weather"], "the cached copy is listed: {listing:#}");
    let registries = listing["registries"].as_array().unwrap();
    let state_of = |url: &str| registries.iter().find(|registry| registry["url"] == url).unwrap().clone();
    let stale = state_of(&registry.url());
    assert_eq!(stale["state"], "stale", "{stale:#}");
    assert!(stale["fetched_at"].is_string() && stale["error"].as_str().unwrap().contains("onnect"), "{stale:#}");
    let unavailable = state_of(&never);
    assert_eq!((unavailable["state"].as_str(), unavailable["addons"].as_u64()), (Some("unavailable"), Some(0)));

    // A registry that answers with something that is not a registry keeps its good copy.
    let broken = StandInRegistry::start(&json!({ "not": "a registry" }));
    let luna = luna.restart_with(|home| {
        let config = std::fs::read_to_string(home.join("config/luna.toml")).unwrap();
        std::fs::write(home.join("config/luna.toml"), config.replace(&never, &broken.url())).unwrap();
    });
    let listing = luna.get_json("/api/addons");
    let broken_state =
        listing["registries"].as_array().unwrap().iter().find(|r| r["url"] == broken.url()).unwrap().clone();
    assert_eq!(broken_state["state"], "unavailable", "{listing:#}");
    assert!(broken_state["error"].as_str().unwrap().contains("not a registry"), "{broken_state:#}");
}
