//! Installing, updating and removing extensions in a running Luna, through `luna ext` and the
//! API: from the stand-in GitHub (tarballs of exact commits), from zip uploads and from local
//! folders; hostile archives; dependencies from a local wheel; the Key Manager.

use std::io::Write;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::extension::{FAST_SUPERVISION, write_config_with};
use crate::support::github_repos::{StandInRepos, TOKEN, Tree};
use crate::support::luna::{TestLuna, luna_command};
use crate::support::mcp::{self, tool_names};
use crate::support::raw_http;
use crate::support::wait_until;

/// A small tools-only extension whose one tool answers with `version`.
pub fn weather(version: &str) -> Tree {
    let tools = format!(
        "def WEATHER_GET_forecast(city: str) -> str:\n    \"\"\"Today's forecast for a city.\"\"\"\n    \
         return f\"sunny in {{city}} ({version})\"\n\n\nTOOLS = [WEATHER_GET_forecast]\n"
    );
    Tree::from([
        ("config.json".to_string(), format!(r#"{{"name": "weather", "version": "{version}"}}"#).into_bytes()),
        ("tools/weather_tools.py".to_string(), tools.into_bytes()),
        ("tools/tool_config.json".to_string(), br#"{"WEATHER_GET_forecast": {"enabled_in_mcp": true}}"#.to_vec()),
    ])
}

fn cli(luna: &TestLuna, args: &[&str]) -> Output {
    luna_command(luna.path()).args(args).output().unwrap()
}

fn succeeds(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fails(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn start(repos: Option<&StandInRepos>) -> TestLuna {
    let more = repos.map(StandInRepos::config).unwrap_or_default();
    TestLuna::start_with(|home| write_config_with(home, FAST_SUPERVISION, &more))
}

fn mcp_url(luna: &TestLuna) -> String {
    format!("http://{}/api/mcp", luna.address)
}

fn forecast(luna: &TestLuna) -> String {
    let result = mcp::sdk(&mcp_url(luna), mcp::LEGACY, None, &["call", "WEATHER_GET_forecast", r#"{"city": "Oslo"}"#]);
    result.json["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

fn master_entry(luna: &TestLuna, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(luna.path().join(".luna/master_config.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["extensions"][name].clone()
}

fn staging_is_empty(luna: &TestLuna) -> bool {
    let staging = luna.path().join("extensions/.luna-staging");
    std::fs::read_dir(&staging).map_or(true, |mut entries| entries.next().is_none())
}

#[test]
fn installs_a_tag_from_github_then_follows_its_branch_to_a_new_commit() {
    let repos = StandInRepos::start();
    let first = repos.push("octo/weather", false, &["main", "v1"], weather("v1"));
    let luna = start(Some(&repos));

    let out = succeeds(&cli(&luna, &["ext", "install", "github:octo/weather@v1"]));

    assert!(out.contains(&format!("weather: installed from github:octo/weather at {}", &first[..12])), "{out}");
    let listing = mcp::sdk(&mcp_url(&luna), mcp::LEGACY, None, &["list"]);
    assert_eq!(tool_names(&listing.json), ["WEATHER_GET_forecast"]);
    assert_eq!(forecast(&luna), "sunny in Oslo (v1)");
    let entry = master_entry(&luna, "weather");
    assert_eq!((entry["source"].as_str(), entry["ref"].as_str()), (Some("github:octo/weather"), Some("v1")));
    assert_eq!(entry["commit"], first.as_str());

    // The tag stays where it is: an update finds nothing new. A branch moves.
    let update = succeeds(&cli(&luna, &["ext", "update", "weather", "--source", "github:octo/weather@main"]));
    assert!(update.contains(&first[..12]), "{update}");
    let second = repos.push("octo/weather", false, &["main"], weather("v2"));
    let old_pid = luna.process("weather_tools").unwrap()["pid"].clone();

    let update = succeeds(&cli(&luna, &["ext", "update", "weather"]));

    assert!(update.contains(&format!("weather: updated from github:octo/weather at {}", &second[..12])), "{update}");
    assert_eq!(forecast(&luna), "sunny in Oslo (v2)");
    assert_ne!(luna.process("weather_tools").unwrap()["pid"], old_pid);
    assert_eq!(master_entry(&luna, "weather")["commit"], second.as_str());
    assert!(staging_is_empty(&luna), "the old version is cleared once the new one runs");
    assert_eq!(repos.leaked_to_codeload(), 0);
}

#[test]
fn a_subfolder_of_a_private_repository_installs_once_a_token_is_set() {
    let repos = StandInRepos::start();
    let mut tree = Tree::new();
    for (path, contents) in weather("mono") {
        tree.insert(format!("extensions/weather/{path}"), contents);
    }
    tree.insert("README.md".into(), b"a monorepo".to_vec());
    let commit = repos.push("octo/private-mono", true, &["main"], tree);
    let luna = start(Some(&repos));
    let source = "github:octo/private-mono:extensions/weather";

    let refused = fails(&cli(&luna, &["ext", "install", source]));
    assert!(refused.contains("is private: add a GITHUB_TOKEN key"), "{refused}");

    let mut set = luna_command(luna.path())
        .args(["keys", "set", "GITHUB_TOKEN"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    set.stdin.take().unwrap().write_all(format!("{TOKEN}\n").as_bytes()).unwrap();
    succeeds(&set.wait_with_output().unwrap());
    let out = succeeds(&cli(&luna, &["ext", "install", source, "--json"]));

    let installed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(installed["commit"], commit.as_str());
    assert_eq!(installed["extension"]["name"], "weather");
    assert_eq!(forecast(&luna), "sunny in Oslo (mono)");
    assert!(!luna.path().join("extensions/weather/README.md").exists(), "only the subfolder is installed");
    assert_eq!(repos.leaked_to_codeload(), 0, "the token goes to the API host only");
    assert!(!luna.log().contains(TOKEN), "the token never reaches the log");
    let by_commit = fails(&cli(&luna, &["ext", "install", &format!("{source}@{}", &commit[..10])]));
    assert!(by_commit.contains("`weather` is already installed"), "{by_commit}");
}

#[test]
fn unknown_repositories_refs_and_folders_are_named_and_nothing_is_left() {
    let repos = StandInRepos::start();
    repos.push("octo/weather", false, &["main"], weather("v1"));
    let luna = start(Some(&repos));

    let unknown = fails(&cli(&luna, &["ext", "install", "github:octo/nothing"]));
    assert!(unknown.contains("github:octo/nothing does not exist"), "{unknown}");
    let no_ref = fails(&cli(&luna, &["ext", "install", "github:octo/weather@v9"]));
    assert!(no_ref.contains("octo/weather has no branch, tag or commit `v9`"), "{no_ref}");
    let no_folder = fails(&cli(&luna, &["ext", "install", "github:octo/weather:sub/dir"]));
    assert!(no_folder.contains("has no folder at `sub/dir`"), "{no_folder}");
    let bad = fails(&cli(&luna, &["ext", "install", "github:octo/weather:../../etc"]));
    assert!(bad.contains("without `..`"), "{bad}");

    repos.use_up_the_rate_limit();
    let limited = fails(&cli(&luna, &["ext", "install", "github:octo/weather"]));
    assert!(limited.contains("rate limit is used up; try again later or add a GITHUB_TOKEN key"), "{limited}");

    assert!(!luna.path().join("extensions/weather").exists());
    assert!(staging_is_empty(&luna));
}

/// A zip of `entries`: (name, contents); a name `link:from->to` is a symbolic link.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        for (name, contents) in entries {
            if let Some(link) = name.strip_prefix("link:") {
                let (from, to) = link.split_once("->").unwrap();
                zip.add_symlink(from, to, options).unwrap();
            } else {
                zip.start_file(*name, options).unwrap();
                zip.write_all(contents).unwrap();
            }
        }
        zip.finish().unwrap();
    }
    cursor.into_inner()
}

fn install_zip(luna: &TestLuna, file_name: &str, zip: &[u8], name: Option<&str>) -> Output {
    let path = luna.path().join(file_name);
    std::fs::write(&path, zip).unwrap();
    let mut args = vec!["ext", "install", path.to_str().unwrap()];
    if let Some(name) = name {
        args.extend(["--name", name]);
    }
    cli(luna, &args)
}

#[test]
fn hostile_or_broken_archives_are_refused_and_the_running_extension_is_untouched() {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        crate::mcp::add_hello(home);
    });
    let hello = luna.wait_running("hello_tools")["pid"].clone();
    let config: &[u8] = br#"{"name": "evil"}"#;
    let bomb = vec![0u8; 300 << 20];
    let many: Vec<(String, Vec<u8>)> = (0..100_000).map(|i| (format!("evil/f{i}"), Vec::new())).collect();
    let many: Vec<(&str, &[u8])> = many.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect();
    let cases: Vec<(&str, Vec<u8>, Option<&str>, &str)> = vec![
        (
            "slip",
            zip_of(&[("evil/config.json", config), ("evil/../../escaped.sh", b"x")]),
            None,
            "points outside the archive",
        ),
        (
            "absolute",
            zip_of(&[("config.json", config), ("/tmp/luna-absolute-escape", b"x")]),
            Some("evil"),
            "is an absolute path",
        ),
        (
            "symlink",
            zip_of(&[("evil/config.json", config), ("link:evil/passwd->../../../etc/passwd", b"")]),
            None,
            "links may only point into their own folder",
        ),
        (
            "bomb",
            zip_of(&[("evil/config.json", config), ("evil/zeros.bin", &bomb)]),
            None,
            "unpacks to more than 256 MiB",
        ),
        ("many", zip_of(&many), None, "100000 entries, more than 20000"),
        ("reserved", zip_of(&[("supervisor/config.json", config)]), None, "`supervisor` is reserved"),
        ("manifest", zip_of(&[("evil/config.json", b"{ not json")]), None, "evil/config.json"),
    ];

    for (case, zip, name, expected) in cases {
        let refused = fails(&install_zip(&luna, &format!("{case}.zip"), &zip, name));
        assert!(refused.contains(expected), "{case}: {refused}");
    }

    let names: Vec<String> = std::fs::read_dir(luna.path().join("extensions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".luna-staging")
        .collect();
    assert_eq!(names, ["hello"]);
    assert!(staging_is_empty(&luna));
    assert!(!luna.path().join("escaped.sh").exists() && !Path::new("/tmp/luna-absolute-escape").exists());
    assert_eq!(luna.process("hello_tools").unwrap()["pid"], hello, "the running extension was never touched");
}

#[test]
fn a_zip_and_a_local_folder_install_and_removal_takes_everything_with_it() {
    let luna = start(None);
    let weather_zip: Vec<(String, Vec<u8>)> =
        weather("zip").into_iter().map(|(path, contents)| (format!("weather/{path}"), contents)).collect();
    let entries: Vec<(&str, &[u8])> = weather_zip.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect();

    succeeds(&install_zip(&luna, "weather-1.zip", &zip_of(&entries), None));
    assert_eq!(forecast(&luna), "sunny in Oslo (zip)");
    assert!(master_entry(&luna, "weather")["source"].as_str().unwrap().starts_with("upload:"));

    let folder = tempfile::tempdir().unwrap();
    let local = folder.path().join("almanac");
    for (path, contents) in weather("local") {
        let path = local.join(path.replace("weather_tools", "almanac_tools").replace("WEATHER", "ALMANAC"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = String::from_utf8(contents).unwrap().replace("WEATHER", "ALMANAC").replace("weather", "almanac");
        std::fs::write(path, text).unwrap();
    }
    succeeds(&cli(&luna, &["ext", "install", local.to_str().unwrap()]));
    luna.wait_running("almanac_tools");
    assert_eq!(master_entry(&luna, "almanac")["source"], format!("local:{}", local.canonicalize().unwrap().display()));

    // Through the gateway a local folder is refused: only the owner on Luna's machine names one.
    let body = format!(r#"{{"source": "local:{}"}}"#, local.display());
    let remote = raw_http::request_with_body(
        luna.address,
        "POST",
        "/api/supervisor/extensions/install",
        &[("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(remote.status, 400, "{}", remote.body);
    assert!(remote.body.contains("only be installed on Luna's machine"), "{}", remote.body);

    let pid = luna.process("weather_tools").unwrap()["pid"].as_u64().unwrap();
    succeeds(&cli(&luna, &["ext", "remove", "weather"]));

    assert!(!luna.path().join("extensions/weather").exists());
    assert!(luna.process("weather_tools").is_none());
    assert!(!crate::support::extension::is_alive(pid));
    assert!(master_entry(&luna, "weather").is_null());
    let listing = mcp::sdk(&mcp_url(&luna), mcp::LEGACY, None, &["list"]);
    assert_eq!(tool_names(&listing.json), ["ALMANAC_GET_forecast"]);
    let gone = fails(&cli(&luna, &["ext", "remove", "weather"]));
    assert!(gone.contains("no extension named `weather`"), "{gone}");
}

/// `weather` whose tool imports a package from `requirements` (a local wheel index).
fn weather_with_dependency(version: &str, requirement: &str) -> Tree {
    let wheels = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wheels");
    let mut tree = weather(version);
    let tools = format!(
        "import luna_fixture_greeting\n\n\ndef WEATHER_GET_forecast(city: str) -> str:\n    \
         \"\"\"Today's forecast for a city.\"\"\"\n    return luna_fixture_greeting.greet(city) + \" ({version})\"\n\n\n\
         TOOLS = [WEATHER_GET_forecast]\n"
    );
    tree.insert("tools/weather_tools.py".into(), tools.into_bytes());
    tree.insert(
        "requirements.txt".into(),
        format!("--no-index\n--find-links {}\n{requirement}\n", wheels.display()).into_bytes(),
    );
    tree
}

#[test]
fn dependencies_install_into_the_extensions_venv_and_a_failing_update_keeps_the_old_version() {
    let repos = StandInRepos::start();
    repos.push("octo/weather", false, &["main"], weather_with_dependency("v1", "luna-fixture-greeting==1.0"));
    let luna = start(Some(&repos));

    let install = cli(&luna, &["ext", "install", "github:octo/weather"]);
    succeeds(&install);
    assert!(String::from_utf8_lossy(&install.stderr).contains("Successfully installed luna-fixture-greeting-1.0"));
    assert_eq!(forecast(&luna), "greetings, Oslo (v1)");
    let venv_python = luna.path().join("extensions/weather/.venv/bin/python");
    assert!(venv_python.exists());
    let pid = luna.process("weather_tools").unwrap()["pid"].clone();

    repos.push("octo/weather", false, &["main"], weather_with_dependency("v2", "luna-fixture-greeting==9.9"));
    let refused = fails(&cli(&luna, &["ext", "update", "weather"]));

    assert!(refused.contains("dependencies: pip install -r requirements.txt failed"), "{refused}");
    assert!(refused.contains("luna-fixture-greeting==9.9"), "pip's own words say why: {refused}");
    assert_eq!(luna.process("weather_tools").unwrap()["pid"], pid, "the old version never stopped");
    assert_eq!(forecast(&luna), "greetings, Oslo (v1)");
    assert!(staging_is_empty(&luna));
}

#[test]
fn luna_killed_during_an_update_comes_back_with_one_whole_version() {
    let repos = StandInRepos::start();
    let first = repos.push("octo/weather", false, &["main"], weather("v1"));
    let luna = start(Some(&repos));
    succeeds(&cli(&luna, &["ext", "install", "github:octo/weather"]));
    // The new version's dependencies take a while: Luna dies while they install.
    repos.push("octo/weather", false, &["main"], weather_with_dependency("v2", "luna-fixture-greeting==1.0"));
    let mut update = luna_command(luna.path()).args(["ext", "update", "weather"]).spawn().unwrap();
    let staging = luna.path().join("extensions/.luna-staging");
    wait_until(Duration::from_secs(30), "the update to reach its dependencies", || {
        std::fs::read_dir(&staging)
            .is_ok_and(|entries| entries.flatten().any(|entry| entry.path().join(".venv").exists()))
    });
    let mut luna = luna;
    luna.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    let _ = update.wait();

    let luna = TestLuna::start_in(luna.into_home());

    luna.wait_running("weather_tools");
    assert_eq!(forecast(&luna), "sunny in Oslo (v1)");
    assert_eq!(master_entry(&luna, "weather")["commit"], first.as_str());
    assert!(!luna.path().join("extensions/weather/requirements.txt").exists(), "no file of the new version");
    assert!(!staging.exists(), "what staging held is cleared at start");
}

#[test]
fn keys_are_masked_refuse_lunas_own_and_reach_processes_started_afterwards() {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        crate::support::extension::add_secretive(home);
    });
    luna.wait_running("secretive_tools");
    let seen = |luna: &TestLuna| {
        let result = mcp::sdk(&mcp_url(luna), mcp::LEGACY, None, &["call", "SECRETIVE_GET_key", "{}"]);
        result.json["content"][0]["text"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(seen(&luna), "unset");
    let secret = "wk-live-4f8a9b2c7d1e";

    let out = succeeds(&cli(&luna, &["keys", "set", "WEATHER_API_KEY", secret]));

    assert!(out.contains("see the old value until restarted: secretive_tools"), "{out}");
    let listing = succeeds(&cli(&luna, &["keys", "list"]));
    assert!(listing.contains("WEATHER_API_KEY") && listing.contains("wk-…d1e"), "masked, ends shown: {listing}");
    assert!(!listing.contains(secret), "{listing}");
    let api = luna.get_json("/api/supervisor/keys");
    assert_eq!(
        api["required"][0],
        serde_json::json!({"extension": "secretive", "key": "WEATHER_API_KEY", "set": true})
    );
    assert!(!api.to_string().contains(secret));
    assert_eq!(seen(&luna), "unset", "a running process keeps its environment");
    succeeds(&cli(&luna, &["service", "restart", "secretive_tools"]));
    luna.wait_running("secretive_tools");
    assert_eq!(seen(&luna), secret);

    let own = fails(&cli(&luna, &["keys", "set", "MCP_AUTH_TOKEN", "mine"]));
    assert!(own.contains("Luna's own secret"), "{own}");
    let env_text = std::fs::read_to_string(luna.path().join(".env")).unwrap_or_default();
    assert!(!env_text.contains("mine"));
    let listing = luna.get_json("/api/supervisor/keys").to_string();
    assert!(!listing.contains("MCP_AUTH_TOKEN"), "Luna's own secrets are not listed: {listing}");

    let file = luna.path().join("import.env");
    std::fs::write(&file, "# from my laptop\nOPENAI_API_KEY=sk-proj-abcdefghijkl\nWEATHER_API_KEY=second\n").unwrap();
    let imported = succeeds(&cli(&luna, &["keys", "import", file.to_str().unwrap()]));
    assert!(imported.contains("OPENAI_API_KEY, WEATHER_API_KEY"), "{imported}");
    std::fs::write(&file, "GOOD=1\nMCP_AUTH_TOKEN=stolen\n").unwrap();
    let refused = fails(&cli(&luna, &["keys", "import", file.to_str().unwrap()]));
    assert!(refused.contains("Luna's own secret"), "{refused}");
    assert!(!std::fs::read_to_string(luna.path().join(".env")).unwrap().contains("GOOD"), "all or nothing");

    succeeds(&cli(&luna, &["keys", "delete", "OPENAI_API_KEY"]));
    let env_file = std::fs::read_to_string(luna.path().join(".env")).unwrap();
    assert!(!env_file.contains("OPENAI_API_KEY") && env_file.contains("WEATHER_API_KEY=second"), "{env_file}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(luna.path().join(".env")).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!luna.log().contains(secret) && !luna.log().contains("sk-proj-abcdefghijkl"), "values never logged");
}

fn api(luna: &TestLuna, method: &str, path: &str, body: &str) -> raw_http::RawResponse {
    let headers = [("Content-Type", "application/json"), ("Accept", "text/event-stream, application/json")];
    raw_http::request_unix_with_body(&luna.api_socket(), method, path, &headers, body)
}

/// The data of the last event of a server-sent-event body, with its name.
fn last_event(body: &str) -> (String, serde_json::Value) {
    let mut name = String::new();
    let mut last = (String::new(), serde_json::Value::Null);
    for line in body.lines() {
        if let Some(event) = line.strip_prefix("event: ") {
            name = event.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            last = (name.clone(), serde_json::from_str(data).unwrap_or_default());
        }
    }
    last
}

/// A queue as the Hub saves it: `operations` and the drafted `master_config`.
fn queue_of(luna: &TestLuna, operations: serde_json::Value, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(luna.path().join(".luna/master_config.json"));
    let mut draft: serde_json::Value =
        text.map_or(serde_json::json!({"extensions": {}}), |text| serde_json::from_str(&text).unwrap());
    change(&mut draft);
    serde_json::json!({ "operations": operations, "master_config": draft }).to_string()
}

#[test]
fn a_saved_queue_of_three_operations_and_settings_applies_inside_the_running_luna() {
    let repos = StandInRepos::start();
    repos.push("octo/weather", false, &["main"], weather("v1"));
    let almanac = |version: &str| -> Tree {
        weather(version)
            .into_iter()
            .map(|(path, contents)| {
                let text =
                    String::from_utf8(contents).unwrap().replace("WEATHER", "ALMANAC").replace("weather", "almanac");
                (path.replace("weather", "almanac"), text.into_bytes())
            })
            .collect()
    };
    repos.push("octo/almanac", false, &["main"], almanac("a1"));
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, &repos.config());
        crate::mcp::add_hello(home);
    });
    succeeds(&cli(&luna, &["ext", "install", "github:octo/weather"]));
    succeeds(&cli(&luna, &["ext", "install", "github:octo/almanac"]));
    let hello_tools = luna.wait_running("hello_tools")["pid"].clone();
    repos.push(
        "octo/tides",
        false,
        &["main"],
        weather("tides")
            .into_iter()
            .map(|(path, contents)| {
                let text = String::from_utf8(contents).unwrap().replace("WEATHER", "TIDES").replace("weather", "tides");
                (path.replace("weather", "tides"), text.into_bytes())
            })
            .collect(),
    );
    let newer = repos.push("octo/almanac", false, &["main"], almanac("a2"));
    let operations = serde_json::json!([
        {"type": "update", "target": "almanac"},
        {"type": "install", "source": "github:octo/tides", "target": "tides"},
        {"type": "delete", "target": "weather"},
    ]);
    let queue = queue_of(&luna, operations, |draft| {
        draft["extensions"]["hello"]["config"]["greeting"] = "Hej".into();
        draft["tool_configs"]["ALMANAC_GET_forecast"] = serde_json::json!({"enabled_in_mcp": false});
    });

    // Save, look, delete, save again: the draft survives until applied.
    assert_eq!(api(&luna, "PUT", "/api/supervisor/queue", &queue).status, 200);
    assert_eq!(luna.get_json("/api/supervisor/queue")["queue"]["operations"][1]["target"], "tides");
    assert_eq!(api(&luna, "DELETE", "/api/supervisor/queue", "").status, 204);
    assert!(luna.get_json("/api/supervisor/queue")["queue"].is_null());
    let broken = queue.replace("github:octo/tides", "ftp:tides");
    let refused = api(&luna, "PUT", "/api/supervisor/queue", &broken);
    assert!(refused.status == 400 && refused.body.contains("operations[1].source"), "{}", refused.body);
    assert_eq!(api(&luna, "PUT", "/api/supervisor/queue", &queue).status, 200);

    let applied = api(&luna, "POST", "/api/supervisor/queue/apply", "");

    let (event, outcome) = last_event(&applied.body);
    assert_eq!(event, "applied", "{}", applied.body);
    let order: Vec<&str> =
        outcome["operations"].as_array().unwrap().iter().map(|op| op["type"].as_str().unwrap()).collect();
    assert_eq!(order, ["delete", "install", "update"], "phases run in order");
    assert_eq!(outcome["restarted"], serde_json::json!(["hello"]), "only hello's config changed");
    assert!(!luna.path().join("extensions/weather").exists());
    assert_eq!(master_entry(&luna, "almanac")["commit"], newer.as_str());
    luna.wait_running("tides_tools");
    let listing = mcp::sdk(&mcp_url(&luna), mcp::LEGACY, None, &["list"]);
    let names = tool_names(&listing.json);
    assert!(
        names.contains(&"TIDES_GET_forecast".to_string()) && !names.iter().any(|n| n.starts_with("ALMANAC")),
        "{names:?}"
    );
    let config = std::fs::read_to_string(luna.path().join("extensions/hello/config.json")).unwrap();
    assert!(config.contains(r#""greeting": "Hej""#), "{config}");
    assert_ne!(luna.wait_running("hello_tools")["pid"], hello_tools, "hello restarted for its new config");
    assert!(!luna.path().join(".luna/update_queue.json").exists());
}

#[test]
fn luna_killed_while_applying_a_queue_finishes_it_at_the_next_start() {
    let repos = StandInRepos::start();
    repos.push("octo/weather", false, &["main"], weather_with_dependency("deps", "luna-fixture-greeting==1.0"));
    let luna = start(Some(&repos));
    let operations = serde_json::json!([{"type": "install", "source": "github:octo/weather", "target": "weather"}]);
    assert_eq!(api(&luna, "PUT", "/api/supervisor/queue", &queue_of(&luna, operations, |_| {})).status, 200);
    let socket = luna.api_socket();
    let apply = std::thread::spawn(move || {
        raw_http::request_unix_with_body(
            &socket,
            "POST",
            "/api/supervisor/queue/apply",
            &[("Accept", "text/event-stream")],
            "",
        )
    });
    let staging = luna.path().join("extensions/.luna-staging");
    wait_until(Duration::from_secs(30), "the apply to reach the dependencies", || {
        std::fs::read_dir(&staging)
            .is_ok_and(|entries| entries.flatten().any(|entry| entry.path().join(".venv").exists()))
    });
    let mut luna = luna;
    luna.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    let _ = apply.join();
    assert!(!luna.path().join("extensions/weather").exists(), "nothing half-installed is in place");

    let luna = TestLuna::start_in(luna.into_home());

    let queue_file = luna.path().join(".luna/update_queue.json");
    wait_until(Duration::from_secs(60), "the resumed apply to finish", || !queue_file.exists());
    luna.wait_running("weather_tools");
    assert_eq!(forecast(&luna), "greetings, Oslo (deps)");
    assert!(master_entry(&luna, "weather")["commit"].is_string());
}

#[test]
fn a_queue_that_fails_three_times_is_set_aside_with_its_error() {
    let repos = StandInRepos::start();
    let luna = start(Some(&repos));
    let operations = serde_json::json!([{"type": "install", "source": "github:octo/missing", "target": "missing"}]);
    assert_eq!(api(&luna, "PUT", "/api/supervisor/queue", &queue_of(&luna, operations, |_| {})).status, 200);

    for attempt in 1..=3 {
        let failed = api(&luna, "POST", "/api/supervisor/queue/apply", "");
        let (event, error) = last_event(&failed.body);
        assert_eq!(event, "error", "{}", failed.body);
        assert!(error["detail"].as_str().unwrap().contains(&format!("attempt {attempt} of 3")), "{error}");
    }

    let state = luna.get_json("/api/supervisor/queue");
    assert!(state["queue"].is_null(), "{state}");
    assert!(state["failed"]["last_error"].as_str().unwrap().contains("github:octo/missing does not exist"), "{state}");
    assert!(luna.path().join(".luna/update_queue_failed.json").exists());
    let nothing = last_event(&api(&luna, "POST", "/api/supervisor/queue/apply", "").body);
    assert_eq!((nothing.0.as_str(), nothing.1["status"].as_u64()), ("error", Some(404)), "nothing left to apply");
    assert_eq!(api(&luna, "DELETE", "/api/supervisor/queue", "").status, 204, "the set-aside queue can be cleared");
    assert!(luna.get_json("/api/supervisor/queue")["failed"].is_null());
}

#[test]
fn a_new_version_that_does_not_start_is_swapped_back_for_the_old_one() {
    let repos = StandInRepos::start();
    let first = repos.push("octo/weather", false, &["main"], weather("v1"));
    let luna = start(Some(&repos));
    succeeds(&cli(&luna, &["ext", "install", "github:octo/weather"]));
    let mut broken = weather("v2");
    broken.insert("tools/weather_tools.py".into(), b"raise RuntimeError('v2 is broken')\n".to_vec());
    repos.push("octo/weather", false, &["main"], broken);

    let refused = fails(&cli(&luna, &["ext", "update", "weather"]));

    assert!(refused.contains("the new version of `weather` did not start"), "{refused}");
    assert!(refused.contains("the previous version runs again"), "{refused}");
    luna.wait_running("weather_tools");
    assert_eq!(forecast(&luna), "sunny in Oslo (v1)");
    assert_eq!(master_entry(&luna, "weather")["commit"], first.as_str());
    let tools = std::fs::read_to_string(luna.path().join("extensions/weather/tools/weather_tools.py")).unwrap();
    assert!(!tools.contains("broken"), "the old files are back");
    assert!(staging_is_empty(&luna));
}
