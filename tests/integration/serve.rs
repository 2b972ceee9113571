//! `luna serve` as a user runs it.

use std::time::Duration;

use crate::support::luna::{TestLuna, luna_command, serve_expecting_refusal};
use crate::support::raw_http;

#[test]
fn healthz_is_answered_by_the_gateway() {
    let luna = TestLuna::start();
    let response = raw_http::get(luna.address, "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "ok\n");
}

#[test]
fn supervisor_health_goes_through_the_gateway_to_the_api_socket() {
    let luna = TestLuna::start();

    let response = raw_http::get(luna.address, "/api/supervisor/health");

    assert_eq!(response.status, 200, "{}", response.body);
    let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(json["status"], "healthy");
    let log = luna.log();
    assert!(log.contains("route=\"core-api\""), "access log names the route:\n{log}");
    assert!(log.contains("path=/api/supervisor/health"), "{log}");
    // The readiness polls of /healthz (like systemd's watchdog probe) stay at debug level.
    assert!(!log.contains("path=/healthz"), "health checks are not in the access log at info:\n{log}");
}

#[test]
fn api_socket_is_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let luna = TestLuna::start();
    let mode = std::fs::metadata(luna.api_socket()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(luna.path().join(".luna/run")).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn hub_page_and_api_404s() {
    let luna = TestLuna::start();

    let hub = raw_http::request(luna.address, "GET", "/", &[("Accept", "text/html")]);
    assert_eq!(hub.status, 200);
    assert!(hub.body.contains("<title>Luna Hub</title>"));
    // The page is revalidated on every load and runs only Luna's own scripts, never framed.
    assert_eq!(hub.header("cache-control"), Some("no-cache"));
    let policy = hub.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!hub.body.contains("<script>"), "no inline script: {}", hub.body);
    // SPA fallback: any other page path gets the same document.
    assert_eq!(raw_http::get(luna.address, "/extensions/hello").body, hub.body);

    // Its hashed bundle is cached for good, and sent compressed to those who accept it.
    let script = hub.body.split("src=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_string();
    assert!(script.starts_with("/assets/"), "{script}");
    let bundle = raw_http::request(luna.address, "GET", &script, &[]);
    assert_eq!(bundle.status, 200);
    assert_eq!(bundle.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert!(bundle.header("content-type").unwrap_or_default().starts_with("text/javascript"));
    let gzipped = raw_http::request(luna.address, "GET", &script, &[("Accept-Encoding", "gzip")]);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    // An asset of another build is a 404, not the page served as script.
    assert_eq!(raw_http::get(luna.address, "/assets/index-gone.js").status, 404);

    let missing = raw_http::get(luna.address, "/api/supervisor/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
}

#[test]
fn services_and_ports_describe_this_run() {
    let luna = TestLuna::start();

    let services: serde_json::Value =
        serde_json::from_str(&raw_http::get(luna.address, "/api/supervisor/services").body).unwrap();
    assert_eq!(services, serde_json::json!({ "services": {} }));
    // state.json is written by a task of its own, a moment after the state it mirrors.
    let state_file = luna.path().join(".luna/state.json");
    crate::support::wait_until(Duration::from_secs(10), "state.json", || state_file.exists());
    let on_disk: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert_eq!(on_disk, services);

    let ports: serde_json::Value =
        serde_json::from_str(&raw_http::get(luna.address, "/api/supervisor/ports").body).unwrap();
    assert_eq!(ports["core"]["gateway"], luna.address.port());
    assert_eq!(ports["extensions"], serde_json::json!({}));
}

#[test]
fn status_prints_a_table_and_json() {
    let luna = TestLuna::start();

    let table = luna_command(luna.path()).arg("status").output().unwrap();
    assert!(table.status.success(), "{}", String::from_utf8_lossy(&table.stderr));
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains("local mode"), "{text}");
    let gateway_line = text.lines().find(|line| line.starts_with("gateway")).expect(&text);
    assert!(gateway_line.contains("running") && gateway_line.contains(&luna.address.to_string()), "{text}");

    let json = luna_command(luna.path()).args(["status", "--json"]).output().unwrap();
    assert!(json.status.success());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["deployment_mode"], "local");
    assert_eq!(report["pid"], luna.pid());
    let names: Vec<&str> =
        report["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gateway", "core_api", "mcp", "extensions", "external_services"]);
}

#[test]
fn status_without_a_running_luna_fails_clearly() {
    let home = tempfile::tempdir().unwrap();
    let output = luna_command(home.path()).arg("status").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("luna is not running"), "{stderr}");
}

#[test]
fn sigterm_and_sigint_exit_cleanly_and_remove_the_socket() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut luna = TestLuna::start();
        assert!(luna.api_socket().exists());

        let (status, took) = luna.signal_and_wait(signal, Duration::from_secs(10));

        assert_eq!(status.code(), Some(0), "signal {signal}:\n{}", luna.log());
        assert!(took < Duration::from_secs(10));
        assert!(!luna.api_socket().exists(), "socket removed after signal {signal}");
    }
}

#[test]
fn shutdown_through_the_api_stops_the_process() {
    let mut luna = TestLuna::start();

    let response = raw_http::request(luna.address, "POST", "/api/supervisor/shutdown", &[("Content-Length", "0")]);

    assert_eq!(response.status, 202);
    let (status, _) = luna.wait_for_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(!luna.api_socket().exists());
}

#[test]
fn invalid_setting_exits_64_naming_the_key() {
    let home = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 3] = [
        (&["--http-listen", "127.0.0.1:notaport"], &[], "server.http_listen"),
        (&[], &[("LUNA_DEPLOYMENT_MODE", "moon")], "deployment_mode"),
        (&[], &[("LUNA_LOG_FORMAT", "xml")], "log.format"),
    ];
    for (args, env, key) in cases {
        let output = luna_command(home.path()).arg("serve").args(args).envs(env.iter().copied()).output().unwrap();
        assert_eq!(output.status.code(), Some(64), "{key}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("`{key}`")), "{key}: {stderr}");
    }
}

#[test]
fn a_typo_in_luna_toml_is_named_with_its_line() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join("config")).unwrap();
    std::fs::write(home.path().join("config/luna.toml"), "[server]\nhttp_listen = \"127.0.0.1:1\"\nport = 3\n")
        .unwrap();

    let output = luna_command(home.path()).output().unwrap();

    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("luna.toml") && stderr.contains("port") && stderr.contains("line 3"), "{stderr}");
}

#[test]
fn a_malformed_env_file_is_named_and_its_value_not_printed() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".env"), "GITHUB_CLIENT_ID=abc\nnot an assignment with s3cr3t-value\n").unwrap();

    let output = luna_command(home.path()).output().unwrap();

    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(".env line 2"), "{stderr}");
    assert!(!stderr.contains("s3cr3t-value"), "{stderr}");
}

#[test]
fn a_busy_port_or_a_second_luna_is_refused_with_a_message() {
    let luna = TestLuna::start();

    let same_port = tempfile::tempdir().unwrap();
    let output =
        luna_command(same_port.path()).args(["serve", "--http-listen", &luna.address.to_string()]).output().unwrap();
    assert_eq!(output.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&output.stderr).contains("server.http_listen"));

    let other_port = format!("127.0.0.1:{}", crate::support::free_port());
    let output = luna_command(luna.path()).args(["serve", "--http-listen", &other_port]).output().unwrap();
    assert_eq!(output.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&output.stderr).contains("another luna is running"));
    // The running instance is untouched.
    assert!(luna.api_socket().exists());
    assert_eq!(raw_http::get(luna.address, "/api/supervisor/health").status, 200);
}

#[test]
fn a_stale_socket_from_a_crash_is_replaced() {
    let mut luna = TestLuna::start();
    luna.signal_and_wait(libc::SIGKILL, Duration::from_secs(5));
    assert!(luna.api_socket().exists(), "SIGKILL leaves the socket behind");

    let restarted = TestLuna::start_in(luna.into_home());

    assert_eq!(raw_http::get(restarted.address, "/api/supervisor/health").status, 200);
}

#[test]
fn other_sites_cannot_drive_a_local_luna() {
    let luna = TestLuna::start();

    // A web page whose name was rebound to 127.0.0.1 (DNS rebinding).
    let rebound = raw_http::request(luna.address, "GET", "/api/supervisor/status", &[("Host", "evil.example:80")]);
    assert_eq!(rebound.status, 421);
    let local_name = format!("localhost:{}", luna.address.port());
    assert_eq!(raw_http::request(luna.address, "GET", "/healthz", &[("Host", &local_name)]).status, 200);

    // A form on another site posting to Luna (open local mode has no cookie to protect it).
    for headers in [[("Origin", "http://evil.example")], [("Sec-Fetch-Site", "cross-site")]] {
        let mut all = headers.to_vec();
        all.push(("Content-Length", "0"));
        let response = raw_http::request(luna.address, "POST", "/api/supervisor/shutdown", &all);
        assert_eq!(response.status, 403, "{headers:?}");
    }
    assert_eq!(raw_http::get(luna.address, "/api/supervisor/health").status, 200, "still running");

    // The Hub itself (same origin) and scripts (no Origin) may.
    let origin = format!("http://{}", luna.address);
    let same_site = raw_http::request(
        luna.address,
        "POST",
        "/api/supervisor/extensions/nope/enable",
        &[("Origin", &origin), ("Content-Length", "0")],
    );
    assert_eq!(same_site.status, 404, "reached the API: {}", same_site.body);
}

#[test]
fn everything_in_the_state_folder_is_the_owners_alone() {
    use crate::support::extension::{API_SERVICE, ExtensionFixture, FAST_SUPERVISION, write_config};
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    // The usual shell umask, under which new files are world-readable.
    // SAFETY: umask(2) takes a plain integer.
    unsafe { libc::umask(0o022) };
    let luna = TestLuna::start_with(|home| {
        write_config(home, &format!("{FAST_SUPERVISION}log_max_bytes = 4096\n"));
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "service.py");
        // Left by an older Luna, readable by everyone; and a secrets file made with an editor.
        std::fs::create_dir_all(home.join(".luna/logs")).unwrap();
        std::fs::write(home.join(".luna/logs/old.log"), "old\n").unwrap();
        std::fs::write(home.join(".env"), "WEATHER_API_KEY=w-1\n").unwrap();
        for path in [home.join(".luna"), home.join(".luna/logs")] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(home.join(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    });
    luna.wait_running("alpha.api");
    // Each request logs a long line: the log rotates and a new file is started.
    let long_path = format!("/api/alpha/{}", "x".repeat(1500));
    let rotated = luna.path().join(".luna/logs/alpha__service_api.log.1");
    crate::support::wait_until(Duration::from_secs(10), "the log to rotate", || {
        luna.app_get("alpha", &long_path);
        rotated.exists() && luna.path().join(".luna/logs/alpha__service_api.log").exists()
    });

    let mut seen = Vec::new();
    let mut pending = vec![luna.path().join(".luna")];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        let mode = metadata.permissions().mode() & 0o777;
        if metadata.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            pending.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
        } else {
            assert_eq!(mode, 0o600, "{} ({:?})", path.display(), metadata.file_type().is_socket());
        }
        seen.push(path.strip_prefix(luna.path()).unwrap().display().to_string());
    }
    for expected in [".luna/luna.db", ".luna/luna.db-wal", ".luna/state.json", ".luna/logs/alpha__service_api.log.1"] {
        assert!(seen.iter().any(|path| path == expected), "{expected} not among {seen:#?}");
    }
    let env_mode = std::fs::metadata(luna.path().join(".env")).unwrap().permissions().mode() & 0o777;
    assert_eq!(env_mode, 0o600, "the secrets file");
    // What an extension creates is its business: it gets the umask Luna was started with.
    let whoami = luna.app_get("alpha", "/api/alpha/whoami");
    let seen: serde_json::Value = serde_json::from_str(&whoami.body).unwrap();
    assert_eq!(seen["umask"], 0o022, "{}", whoami.body);
}

#[test]
fn an_open_luna_refuses_requests_a_proxy_or_tunnel_forwarded() {
    let luna = TestLuna::start();
    // nginx's plain `proxy_pass`, ngrok and cloudflared may rewrite Host to 127.0.0.1 but say
    // that they forwarded.
    for header in [("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"), ("Via", "1.1 tunnel")] {
        let response = raw_http::request(luna.address, "GET", "/api/supervisor/status", &[header]);
        assert_eq!(response.status, 403, "{header:?}: {}", response.body);
        assert!(response.body.contains("forwarded_request"), "{}", response.body);
    }
    assert_eq!(raw_http::get(luna.address, "/api/supervisor/status").status, 200, "this machine");
}

#[test]
fn an_open_luna_refuses_a_public_url_that_is_not_loopback() {
    let home = tempfile::tempdir().unwrap();

    let output = serve_expecting_refusal(home.path(), &[("LUNA_PUBLIC_URL", "https://luna.example.com")]);

    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.public_url") && stderr.contains("GITHUB_CLIENT_ID"), "{stderr}");
}

/// The Hub's own code (not the types generated from the document).
fn hub_sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(hub_sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "ts" || ext == "tsx") && !path.ends_with("schema.d.ts") {
            files.push(path);
        }
    }
    files
}

/// The control API's paths that `source` (a front-end's code) calls, with every `{…}` or
/// `${…}` placeholder and query string left out: `/api/supervisor/services/{}/troubleshoot`.
fn called_paths(source: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for start in source.match_indices("/api/").map(|(at, _)| at) {
        let literal: String =
            source[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "/-_{}$".contains(*c)).collect();
        if literal.starts_with("/api/supervisor/") || literal.starts_with("/api/external-services/") {
            let mut normalized = String::new();
            let mut in_placeholder = false;
            for c in literal.trim_end_matches('/').chars() {
                match c {
                    '{' => in_placeholder = true,
                    '}' => {
                        in_placeholder = false;
                        normalized.push_str("{}");
                    }
                    '$' => {}
                    _ if !in_placeholder => normalized.push(c),
                    _ => {}
                }
            }
            paths.push(normalized);
        }
    }
    paths
}

#[test]
fn the_openapi_document_describes_the_control_api_and_every_route_it_names_answers() {
    let luna = TestLuna::start();
    let response = raw_http::request_unix(&luna.api_socket(), "GET", "/api/openapi.json", &[]);
    assert_eq!(response.status, 200, "{}", response.body);
    let document: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    let paths = document["paths"].as_object().unwrap();
    let shape = |path: &str| {
        path.split('/')
            .map(|segment| if segment.starts_with('{') { "{}" } else { segment })
            .collect::<Vec<_>>()
            .join("/")
    };
    let documented: Vec<String> = paths.keys().map(|path| shape(path)).collect();

    // Every path the CLI and the Hub call is in the document.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = hub_sources(&root.join("hub_ui/src"));
    assert!(sources.len() >= 5, "{sources:?}");
    sources.extend(std::fs::read_dir(root.join("src/cli")).unwrap().map(|entry| entry.unwrap().path()));
    for source in sources {
        for called in called_paths(&std::fs::read_to_string(&source).unwrap()) {
            // A placeholder in the caller (`{action}`) stands for any segment; a prefix (the
            // CLI's `/api/external-services` plus a name it appends) for any longer path.
            let fits = |path: &String| {
                let (path, called): (Vec<&str>, Vec<&str>) = (path.split('/').collect(), called.split('/').collect());
                path.len() >= called.len()
                    && called.iter().zip(&path).all(|(want, have)| want == have || *want == "{}" || *have == "{}")
            };
            let found = documented.iter().any(fits);
            assert!(found, "{} calls {called}, which the document does not describe", source.display());
        }
    }
    assert!(documented.len() >= 30, "{documented:#?}");

    // Every documented operation reaches a handler (never the "nothing here" fallback or a
    // 405); shutdown last, since it does what it says.
    let mut operations: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |method| (method.to_uppercase(), path.replace(['{', '}'], "")))
        })
        .collect();
    operations.sort_by_key(|(_, path)| path.ends_with("/shutdown"));
    for (method, path) in operations {
        let headers = [("Content-Length", "0"), ("Accept", "application/json")];
        let answer = raw_http::request_unix(&luna.api_socket(), &method, &path, &headers);
        assert_ne!(answer.status, 405, "{method} {path}");
        assert!(!answer.body.contains("nothing at"), "{method} {path} is documented but not routed: {}", answer.body);
    }
}
