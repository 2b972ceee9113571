//! `/api/mcp` with real MCP clients (the Python SDK and the MCP Inspector CLI) against the
//! real `luna` binary, its real tool hosts and the bundled `hello` extension.

use std::path::Path;
use std::time::Duration;

use crate::support::extension::{ExtensionFixture, FAST_SUPERVISION, copy_dir, write_config_with};
use crate::support::luna::TestLuna;
use crate::support::mcp::{self, LEGACY, PROTOCOLS, STATELESS, Watcher, tool_names};
use crate::support::raw_http;

/// The bundled `hello` extension, as the repository ships it.
pub fn add_hello(home: &Path) {
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("extensions/hello"), &home.join("extensions/hello"));
}

/// An extension whose only content is `tools/<name>_tools.py` (from the fixtures) and a
/// `tool_config.json` offering every tool in `enabled`.
pub fn add_tools_extension(home: &Path, name: &str, tools_py: &str, enabled: &[&str]) {
    let extension = ExtensionFixture::new(home, name);
    let tools = extension.dir().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::write(tools.join(format!("{name}_tools.py")), tools_py).unwrap();
    let config: serde_json::Map<String, serde_json::Value> = enabled
        .iter()
        .map(|tool| (tool.to_string(), serde_json::json!({"enabled_in_mcp": true, "passthrough": false})))
        .collect();
    std::fs::write(tools.join("tool_config.json"), serde_json::to_string(&config).unwrap()).unwrap();
}

pub fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tools").join(name)).unwrap()
}

fn url(luna: &TestLuna) -> String {
    format!("http://{}/api/mcp", luna.address)
}

fn token(luna: &TestLuna) -> String {
    let output = crate::support::luna::luna_command(luna.path()).arg("token").output().unwrap();
    assert!(output.status.success(), "luna token failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn text_of(result: &serde_json::Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

fn start_with_hello() -> TestLuna {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        add_hello(home);
    });
    luna.wait_running("hello_tools");
    luna
}

#[test]
fn the_python_sdk_lists_and_calls_hello_tools_over_both_protocols() {
    let luna = start_with_hello();
    let url = url(&luna);
    for protocol in PROTOCOLS {
        let listing = mcp::sdk(&url, protocol, None, &["list"]);
        assert_eq!(listing.code, 0, "{protocol}: {:?}", listing.json);
        assert_eq!(listing.json["protocol_version"], protocol);
        assert_eq!(listing.json["server_name"], "luna");
        // Admin tools exist but are off by default.
        assert_eq!(tool_names(&listing.json), ["HELLO_GET_greeting"], "{protocol}");
        let tool = &listing.json["tools"][0];
        assert!(tool["description"].as_str().unwrap().starts_with("Greet someone by name."), "{tool}");
        assert_eq!(tool["inputSchema"]["properties"]["name"]["type"], "string");
        assert_eq!(tool["inputSchema"]["required"], serde_json::json!(["name"]));

        let greeting = mcp::sdk(&url, protocol, None, &["call", "HELLO_GET_greeting", r#"{"name": "Ada"}"#]);
        assert_eq!(greeting.json["isError"], false, "{protocol}: {:?}", greeting.json);
        assert_eq!(text_of(&greeting.json), r#"{"greeting": "Hello, Ada!"}"#);

        // The tool's own `(False, text)` is an error result, not a broken connection.
        let refused = mcp::sdk(&url, protocol, None, &["call", "HELLO_GET_greeting", r#"{"name": " "}"#]);
        assert_eq!(refused.json["isError"], true, "{protocol}: {:?}", refused.json);
        assert_eq!(text_of(&refused.json), "name must not be empty");

        // Arguments are checked against the schema before the tool runs.
        for (arguments, problem) in [("{}", "\"name\" is a required property"), (r#"{"name": 7}"#, "`name`")] {
            let invalid = mcp::sdk(&url, protocol, None, &["call", "HELLO_GET_greeting", arguments]);
            assert_eq!(invalid.json["isError"], true, "{protocol} {arguments}: {:?}", invalid.json);
            let text = text_of(&invalid.json);
            assert!(text.starts_with("invalid arguments for HELLO_GET_greeting") && text.contains(problem), "{text}");
        }

        let unknown = mcp::sdk(&url, protocol, None, &["call", "NOPE_GET_nothing", "{}"]);
        assert_eq!(unknown.json["jsonrpc_error"]["code"], -32602, "{protocol}: {:?}", unknown.json);
    }
}

#[test]
fn the_inspector_cli_lists_and_calls_with_the_bearer_over_both_protocols() {
    let luna = start_with_hello();
    let (url, token) = (url(&luna), token(&luna));
    for protocol in PROTOCOLS {
        let listing = mcp::inspector(&url, protocol, Some(&token), &["list"]);
        assert_eq!(listing.code, 0, "{protocol}: {:?}", listing.json);
        assert_eq!(tool_names(&listing.json["result"]), ["HELLO_GET_greeting"]);

        let call = mcp::inspector(&url, protocol, Some(&token), &["call", "HELLO_GET_greeting", r#"{"name": "Lin"}"#]);
        assert_eq!(call.code, 0, "{protocol}: {:?}", call.json);
        assert_eq!(text_of(&call.json["result"]), r#"{"greeting": "Hello, Lin!"}"#);

        let wrong = mcp::inspector(&url, protocol, Some("not-the-token"), &["list"]);
        assert_eq!(wrong.code, 3, "{protocol}: a wrong bearer must be refused: {:?}", wrong.json);
        assert_eq!(wrong.json["error"]["code"], "auth_required");
    }
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

fn post_initialize(luna: &TestLuna, authorization: Option<&str>) -> raw_http::RawResponse {
    let mut headers = vec![("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")];
    if let Some(value) = authorization {
        headers.push(("Authorization", value));
    }
    raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, INITIALIZE)
}

#[test]
fn a_wrong_bearer_is_refused_and_the_generated_token_is_accepted() {
    let luna = start_with_hello();
    let token = token(&luna);
    assert!(token.len() >= 40, "a generated token is long: {token}");
    let env = std::fs::read_to_string(luna.path().join(".env")).unwrap();
    assert!(env.contains(&format!("MCP_AUTH_TOKEN={token}")), "the token is kept in .env");

    for protocol in PROTOCOLS {
        let refused = mcp::sdk(&url(&luna), protocol, Some("wrong"), &["list"]);
        assert_eq!(refused.json["http_status"], 401, "{protocol}: {:?}", refused.json);
        let accepted = mcp::sdk(&url(&luna), protocol, Some(&token), &["list"]);
        assert_eq!(tool_names(&accepted.json), ["HELLO_GET_greeting"], "{protocol}");
    }

    let wrong = post_initialize(&luna, Some("Bearer wrong"));
    assert_eq!(wrong.status, 401);
    let challenge = wrong.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer ") && challenge.contains(r#"error="invalid_token""#), "{challenge}");
    // Open local mode: a loopback client without any bearer is let in ...
    assert_eq!(post_initialize(&luna, None).status, 200);
    // ... but not a web page in the user's browser (another origin), nor a rebound DNS name.
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("Origin", "https://evil.example"),
    ];
    let cross_site = raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, INITIALIZE);
    assert_eq!(cross_site.status, 403, "{}", cross_site.body);
    let rebound = [("Host", "evil.example"), ("Content-Type", "application/json")];
    assert_eq!(raw_http::request_with_body(luna.address, "POST", "/api/mcp", &rebound, INITIALIZE).status, 421);
    assert_eq!(post_initialize(&luna, Some(&format!("Bearer {token}"))).status, 200);
}

#[test]
fn with_github_login_configured_a_bearer_is_required() {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "[auth]\nallowed_users = [\"octocat\"]\n");
        std::fs::write(
            home.join(".env"),
            "GITHUB_CLIENT_ID=id\nGITHUB_CLIENT_SECRET=secret\nMCP_AUTH_TOKEN=owner-token-0123456789\n",
        )
        .unwrap();
        add_hello(home);
    });
    let missing = post_initialize(&luna, None);
    assert_eq!(missing.status, 401, "{}", missing.body);
    let challenge = missing.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with(r#"Bearer resource_metadata=""#) && !challenge.contains("error="), "{challenge}");
    assert_eq!(post_initialize(&luna, Some("Bearer wrong")).status, 401);
    assert_eq!(post_initialize(&luna, Some("Bearer owner-token-0123456789")).status, 200);
    // A session cookie is no MCP credential, and the token in .env was kept, not replaced.
    assert_eq!(token(&luna), "owner-token-0123456789");
}

#[test]
fn failing_slow_and_oversized_tools_come_back_as_error_results() {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "[mcp]\ntool_timeout_ms = 1500\nmax_result_bytes = 4096\n");
        add_tools_extension(
            home,
            "trouble",
            &fixture_text("trouble_tools.py"),
            &["TROUBLE_GET_sleep", "TROUBLE_GET_big", "TROUBLE_ACTION_raise"],
        );
    });
    luna.wait_running("trouble_tools");
    let url = url(&luna);
    for protocol in PROTOCOLS {
        let call = |name: &str, arguments: &str| mcp::sdk(&url, protocol, None, &["call", name, arguments]).json;

        let raised = call("TROUBLE_ACTION_raise", r#"{"message": "disk on fire"}"#);
        assert_eq!(raised["isError"], true, "{raised}");
        assert_eq!(text_of(&raised), "RuntimeError: disk on fire");

        let slow = call("TROUBLE_GET_sleep", r#"{"seconds": 20}"#);
        assert_eq!(slow["isError"], true, "{slow}");
        assert!(text_of(&slow).contains("did not answer within 1.5s"), "{slow}");

        let big = call("TROUBLE_GET_big", r#"{"size": 10000}"#);
        assert_eq!(big["isError"], true, "{big}");
        assert!(text_of(&big).contains("over the limit of 4096 bytes (mcp.max_result_bytes)"), "{big}");

        // The host is still serving: a slow call does not block the next one.
        let quick = call("TROUBLE_GET_sleep", r#"{"seconds": 0}"#);
        assert_eq!((quick["isError"].clone(), text_of(&quick)), (serde_json::json!(false), "slept 0s".into()));
    }
    let log = std::fs::read_to_string(luna.path().join(".luna/logs/trouble_tools.log")).unwrap();
    assert!(
        log.contains("about to fail") && log.contains("RuntimeError: disk on fire"),
        "tool output is logged:\n{log}"
    );
    assert_eq!(luna.process("trouble_tools").unwrap()["restarts"], 0, "errors are results, not host crashes");
}

#[test]
fn an_extension_whose_tools_fail_to_import_is_reported_and_the_others_still_work() {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        add_hello(home);
        add_tools_extension(home, "broken", "import no_such_module_anywhere\nTOOLS = []\n", &["BROKEN_GET_x"]);
    });
    let record = luna.wait_for_process("broken_tools", Duration::from_secs(15), "misconfigured", |record| {
        record["status"] == "misconfigured"
    });
    let error = record["error"].as_str().unwrap();
    assert!(error.contains("ModuleNotFoundError: No module named 'no_such_module_anywhere'"), "{error}");
    assert!(error.contains("broken_tools.py"), "the traceback names the file: {error}");

    let report = luna.get_json("/api/supervisor/tools");
    let host = &report["hosts"]["broken_tools"];
    assert_eq!(host["status"], "misconfigured");
    assert!(host["error"].as_str().unwrap().contains("Traceback"), "{host}");

    luna.wait_running("hello_tools");
    let listing = mcp::sdk(&url(&luna), LEGACY, None, &["list"]);
    assert_eq!(tool_names(&listing.json), ["HELLO_GET_greeting"]);
}

#[test]
fn an_existing_stdio_mcp_server_declared_by_an_extension_serves_its_tools() {
    let python = mcp::python();
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        let extension = ExtensionFixture::new(home, "echo");
        std::fs::write(extension.dir().join("server.py"), fixture_text("echo_mcp_server.py")).unwrap();
        let config = serde_json::json!({
            "name": "echo",
            "version": "1",
            "mcp_server": {"command": [python.display().to_string(), "server.py"]}
        });
        std::fs::write(extension.dir().join("config.json"), config.to_string()).unwrap();
        std::fs::create_dir_all(extension.dir().join("tools")).unwrap();
        std::fs::write(
            extension.dir().join("tools/tool_config.json"),
            r#"{"ECHO_GET_echo": {"enabled_in_mcp": true}, "ECHO_ACTION_count": {"enabled_in_mcp": true}}"#,
        )
        .unwrap();
    });
    luna.wait_running("echo_tools");
    for protocol in PROTOCOLS {
        let listing = mcp::sdk(&url(&luna), protocol, None, &["list"]);
        assert_eq!(tool_names(&listing.json), ["ECHO_ACTION_count", "ECHO_GET_echo"], "{protocol}");
        let echoed = mcp::sdk(&url(&luna), protocol, None, &["call", "ECHO_GET_echo", r#"{"text": "hi"}"#]);
        assert_eq!(echoed.json["isError"], false, "{protocol}: {:?}", echoed.json);
        assert_eq!(text_of(&echoed.json), "echo: hi");

        // The server's progress reaches the client that asked, under the client's own token,
        // always growing (a report that overtook another is not sent after it), and all of it
        // before the result: the last report the client saw is the last step.
        let counted =
            mcp::sdk(&url(&luna), protocol, None, &["call", "ECHO_ACTION_count", r#"{"steps": 3}"#, "--progress"]);
        assert_eq!(text_of(&counted.json), "counted to 3", "{protocol}: {:?}", counted.json);
        let reports = counted.json["progress"].as_array().cloned().unwrap_or_default();
        let values: Vec<f64> = reports.iter().map(|report| report["progress"].as_f64().unwrap()).collect();
        assert!(values.windows(2).all(|pair| pair[0] < pair[1]), "{protocol}: {reports:?}");
        assert_eq!(
            reports.last(),
            Some(&serde_json::json!({ "progress": 3.0, "total": 3.0, "message": "step 3 of 3" })),
            "{protocol}: {:?}\n{}",
            counted.json,
            luna.log()
        );
        let quiet = mcp::sdk(&url(&luna), protocol, None, &["call", "ECHO_ACTION_count", r#"{"steps": 2}"#]);
        assert_eq!(text_of(&quiet.json), "counted to 2", "without a token the call runs the same: {:?}", quiet.json);
    }
}

fn set_tool_flags(luna: &TestLuna, name: &str, body: &str) -> raw_http::RawResponse {
    let headers = [("Content-Type", "application/json")];
    raw_http::request_unix_with_body(
        &luna.api_socket(),
        "POST",
        &format!("/api/supervisor/tools/{name}"),
        &headers,
        body,
    )
}

#[test]
fn toggling_a_tool_or_its_extension_changes_the_list_and_notifies_sessions() {
    let luna = start_with_hello();
    let url = url(&luna);
    let (mut watcher, ready) = Watcher::start(&url);
    assert_eq!(ready["tools"], serde_json::json!(["HELLO_GET_greeting"]));

    let response = set_tool_flags(&luna, "HELLO_GET_greeting", r#"{"enabled_in_mcp": false}"#);
    assert_eq!(response.status, 200, "{}", response.body);
    let changed = watcher.next(Duration::from_secs(30));
    assert_eq!(changed, serde_json::json!({"changed": true, "tools": []}));
    // A client that connects afresh (or cached the old list) sees the change too.
    assert_eq!(tool_names(&mcp::sdk(&url, STATELESS, None, &["list"]).json), Vec::<String>::new());

    // The choice is stored like the reference does: master_config and the extension's file.
    let master: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(luna.path().join(".luna/master_config.json")).unwrap()).unwrap();
    assert_eq!(master["tool_configs"]["HELLO_GET_greeting"]["enabled_in_mcp"], false);
    let tool_config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(luna.path().join("extensions/hello/tools/tool_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(tool_config["HELLO_GET_greeting"]["enabled_in_mcp"], false);

    // Back on, then the whole extension off: its tool host stops and its tools go.
    assert_eq!(set_tool_flags(&luna, "HELLO_GET_greeting", r#"{"enabled_in_mcp": true}"#).status, 200);
    let (mut watcher, ready) = Watcher::start(&url);
    assert_eq!(ready["tools"], serde_json::json!(["HELLO_GET_greeting"]));
    assert_eq!(luna.post("/api/supervisor/extensions/hello/disable").0, 200);
    assert_eq!(watcher.next(Duration::from_secs(30)), serde_json::json!({"changed": true, "tools": []}));
    assert_eq!(tool_names(&mcp::sdk(&url, LEGACY, None, &["list"]).json), Vec::<String>::new());
}

#[test]
fn tool_flag_updates_are_checked() {
    let luna = start_with_hello();
    let unknown = set_tool_flags(&luna, "NOPE_GET_x", r#"{"enabled_in_mcp": true}"#);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let typo = set_tool_flags(&luna, "HELLO_GET_greeting", r#"{"enabled": true}"#);
    assert_eq!(typo.status, 400, "{}", typo.body);
    assert!(typo.body.contains("enabled"), "the error names the field: {}", typo.body);
    let mistyped = set_tool_flags(&luna, "HELLO_GET_greeting", r#"{"enabled_in_mcp": "yes"}"#);
    assert_eq!(mistyped.status, 400, "{}", mistyped.body);
}

#[test]
fn admin_tools_are_off_until_enabled_and_use_the_api() {
    let luna = start_with_hello();
    let url = url(&luna);
    let listing = luna.get_json("/api/supervisor/tools");
    let admin = listing["tools"].as_array().unwrap().iter().find(|tool| tool["name"] == "LUNA_GET_services").unwrap();
    assert_eq!(
        (admin["extension"].clone(), admin["in_mcp"].clone()),
        (serde_json::json!("luna"), serde_json::json!(false))
    );
    let refused = mcp::sdk(&url, LEGACY, None, &["call", "LUNA_GET_services", "{}"]);
    assert_eq!(refused.json["jsonrpc_error"]["code"], -32602, "{:?}", refused.json);

    assert_eq!(set_tool_flags(&luna, "LUNA_GET_services", r#"{"enabled_in_mcp": true}"#).status, 200);
    let services = mcp::sdk(&url, STATELESS, None, &["call", "LUNA_GET_services", "{}"]);
    assert_eq!(services.json["isError"], false, "{:?}", services.json);
    let state: serde_json::Value = serde_json::from_str(&text_of(&services.json)).unwrap();
    assert_eq!(state["services"]["hello_tools"]["status"], "running", "{state}");
}

#[test]
fn a_tool_name_two_extensions_share_is_served_once_and_reported() {
    let tools_py =
        "def SHARED_GET_x() -> str:\n    \"\"\"Whose am I?\"\"\"\n    return __name__\n\nTOOLS = [SHARED_GET_x]\n";
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        add_tools_extension(home, "alpha", tools_py, &["SHARED_GET_x"]);
        add_tools_extension(home, "beta", tools_py, &["SHARED_GET_x"]);
    });
    luna.wait_running("alpha_tools");
    luna.wait_running("beta_tools");
    let listing = mcp::sdk(&url(&luna), LEGACY, None, &["list"]);
    assert_eq!(tool_names(&listing.json), ["SHARED_GET_x"]);
    let called = mcp::sdk(&url(&luna), LEGACY, None, &["call", "SHARED_GET_x", "{}"]);
    assert_eq!(text_of(&called.json), "luna_tools_alpha_alpha_tools", "alphabetical order decides");

    let report = luna.get_json("/api/supervisor/tools");
    let beta = report["tools"].as_array().unwrap().iter().find(|tool| tool["extension"] == "beta").unwrap();
    assert_eq!(beta["in_mcp"], false);
    assert_eq!(beta["problem"], "the name is already taken by extension `alpha`");
    let status = luna.get_json("/api/supervisor/status");
    let line = status["components"].as_array().unwrap().iter().find(|c| c["name"] == "mcp").unwrap().clone();
    assert_eq!(line["status"], "degraded", "{line}");
    assert!(line["detail"].as_str().unwrap().contains("1 with problems"), "{line}");
}

#[test]
fn python_tools_run_in_the_extensions_venv_with_their_pydantic_schema() {
    // The test venv has Pydantic (the MCP SDK needs it); the system python3 need not.
    let venv = mcp::python().parent().unwrap().parent().unwrap().to_path_buf();
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        let tools = ["NOTES_UPDATE_project_note", "NOTES_GET_interpreter"];
        add_tools_extension(home, "notes", &fixture_text("notes_tools.py"), &tools);
        std::os::unix::fs::symlink(&venv, home.join("extensions/notes/.venv")).unwrap();
    });
    luna.wait_running("notes_tools");
    let interpreter = mcp::sdk(&url(&luna), LEGACY, None, &["call", "NOTES_GET_interpreter", "{}"]);
    let expected = luna.path().join("extensions/notes/.venv/bin/python");
    assert_eq!(text_of(&interpreter.json), expected.display().to_string());

    let listing = mcp::sdk(&url(&luna), LEGACY, None, &["list"]);
    assert_eq!(tool_names(&listing.json), ["NOTES_GET_interpreter", "NOTES_UPDATE_project_note"]);
    let schema = &listing.json["tools"][1]["inputSchema"];
    assert_eq!(schema["properties"]["project_id"]["description"], "The project to add the note to", "{schema}");
    assert_eq!(schema["properties"]["project_id"]["minLength"], 1, "{schema}");
    assert_eq!(schema["required"], serde_json::json!(["project_id", "content"]));

    let empty = mcp::sdk(
        &url(&luna),
        LEGACY,
        None,
        &["call", "NOTES_UPDATE_project_note", r#"{"project_id": "", "content": "x"}"#],
    );
    assert_eq!(empty.json["isError"], true, "{:?}", empty.json);
    assert!(text_of(&empty.json).contains("`project_id`"), "{:?}", empty.json);
    let added = mcp::sdk(
        &url(&luna),
        LEGACY,
        None,
        &["call", "NOTES_UPDATE_project_note", r#"{"project_id": "Eco AI", "content": "ship"}"#],
    );
    assert_eq!(text_of(&added.json), r#"{"project_id": "Eco AI", "success": true}"#);
}

#[test]
fn two_authorization_headers_are_a_bad_request() {
    let luna = start_with_hello();
    let good = format!("Bearer {}", token(&luna));
    for pair in [[good.as_str(), "Bearer wrong"], ["Bearer wrong", good.as_str()]] {
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("Authorization", pair[0]),
            ("Authorization", pair[1]),
        ];
        // Through the gateway, and straight on the API socket.
        let response = raw_http::request_with_body(luna.address, "POST", "/api/mcp", &headers, INITIALIZE);
        assert_eq!(response.status, 400, "{pair:?}: {}", response.body);
        assert!(response.body.contains("invalid_request"), "{}", response.body);
        let socket = raw_http::request_unix_with_body(&luna.api_socket(), "POST", "/api/mcp", &headers, INITIALIZE);
        assert_eq!(socket.status, 400, "{pair:?}: {}", socket.body);
        assert!(socket.header("www-authenticate").unwrap().contains(r#"error="invalid_request""#));
    }
    assert_eq!(post_initialize(&luna, Some(&good)).status, 200, "one header is fine");
}

#[test]
fn a_refused_request_is_answered_without_waiting_for_its_body() {
    use std::io::{Read, Write};
    let luna = start_with_hello();
    let mut stream = std::net::TcpStream::connect(luna.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Says 4 MiB are coming and sends 1 KiB: the refusal must not wait for the rest.
    let head = format!(
        "POST /api/mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n",
        luna.address,
        4 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&[b' '; 1024]).unwrap();

    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !received.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).expect("the 401 comes before the body is complete");
        assert!(read > 0, "closed without an answer");
        received.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&received).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("connection: close"), "the unread body ends the connection: {head}");
}

#[test]
fn a_refused_request_whose_short_body_never_comes_is_answered_all_the_same() {
    use std::io::{Read, Write};
    let luna = start_with_hello();
    let mut stream = std::net::TcpStream::connect(luna.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /api/mcp HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{",
        luna.address
    );
    stream.write_all(head.as_bytes()).unwrap();

    let mut received = [0u8; 4096];
    let read = stream.read(&mut received).expect("answered, not held open by a body that never comes");
    let answer = String::from_utf8_lossy(&received[..read]).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 401") && answer.contains("connection: close"), "{answer}");
}

#[test]
fn a_hung_tool_host_goes_unanswered_on_its_mcp_ping_and_is_restarted() {
    let luna = start_with_hello();
    let hung = luna.wait_running("hello_tools")["pid"].as_i64().unwrap();
    // A stopped process is a hung host: its pipes stay open, nothing answers on them.
    // SAFETY: kill(2) with plain integers, on the tool host this test started.
    unsafe { libc::kill(hung as i32, libc::SIGSTOP) };

    let restarted = luna.wait_for_process("hello_tools", Duration::from_secs(20), "restarted", |record| {
        record["status"] == "running" && record["pid"].as_i64().is_some_and(|pid| pid != hung)
    });
    assert!(restarted["restarts"].as_u64().unwrap() >= 1, "{restarted:#}");
    assert!(restarted["health_check_failures"].as_u64().unwrap() >= 2, "two pings went unanswered: {restarted:#}");
    let last_exit = restarted["last_exit"].to_string();
    assert!(last_exit.contains("signal") || last_exit.contains("code"), "the hung host was killed: {restarted:#}");
    let result =
        mcp::sdk(&url(&luna), STATELESS, Some(&token(&luna)), &["call", "HELLO_GET_greeting", r#"{"name": "Ada"}"#]);
    assert!(text_of(&result.json).contains("Ada"), "its tools answer again: {:#}", result.json);
}

#[test]
fn python_tools_describe_typed_dicts_in_json_schema_2020_12_and_refuse_unknown_fields() {
    let tools_py = r#"import typing


class Address(typing.TypedDict):
    street: str
    city: str


class Contact(typing.TypedDict, total=False):
    name: str
    home: Address


def CONTACTS_ADD_contact(contact: Contact, tags: list[str]) -> str:
    """Adds a contact."""
    return f"{contact['name']} in {contact['home']['city']} ({', '.join(tags)})"


TOOLS = [CONTACTS_ADD_contact]
"#;
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        add_tools_extension(home, "contacts", tools_py, &["CONTACTS_ADD_contact"]);
    });
    luna.wait_running("contacts_tools");
    let listing = mcp::sdk(&url(&luna), LEGACY, None, &["list"]);
    let schema = &listing.json["tools"][0]["inputSchema"];
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{schema:#}");
    assert_eq!(schema["additionalProperties"], false, "{schema:#}");
    assert_eq!(schema["properties"]["contact"]["$ref"], "#/$defs/Contact", "{schema:#}");
    assert_eq!(schema["$defs"]["Contact"]["properties"]["home"]["$ref"], "#/$defs/Address", "{schema:#}");
    assert_eq!(schema["$defs"]["Address"]["required"], serde_json::json!(["street", "city"]));
    assert_eq!(schema["$defs"]["Address"]["additionalProperties"], false);

    let call = |arguments: &str| mcp::sdk(&url(&luna), LEGACY, None, &["call", "CONTACTS_ADD_contact", arguments]).json;
    let added =
        call(r#"{"contact": {"name": "Ada", "home": {"street": "1 Main St", "city": "London"}}, "tags": ["math"]}"#);
    assert_eq!(text_of(&added), "Ada in London (math)", "{added:#}");
    let refused =
        call(r#"{"contact": {"name": "Ada", "home": {"street": "x", "city": "y", "planet": "Mars"}}, "tags": []}"#);
    assert_eq!(refused["isError"], true, "a field the type does not name is refused: {refused:#}");
    assert!(text_of(&refused).contains("planet"), "{refused:#}");
}
