//! Everything an MCP server offers besides tools, through `/api/mcp`: the official conformance
//! suite against Luna fronting a full-featured stdio server (`everything_mcp_server.py`, the
//! official Python SDK), and real clients reading resources, getting prompts and answering
//! a server's requests, one session never seeing another's.

use crate::mcp::fixture_text;
use crate::support::extension::{ExtensionFixture, FAST_SUPERVISION, write_config_with};
use crate::support::luna::TestLuna;
use crate::support::mcp;

/// Every tool of the fixture server, all switched on.
const EVERYTHING_TOOLS: [&str; 16] = [
    "json_schema_2020_12_tool",
    "slow_echo",
    "test_audio_content",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "test_embedded_resource",
    "test_error_handling",
    "test_image_content",
    "test_multiple_content_types",
    "test_reconnection",
    "test_sampling",
    "test_simple_text",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "trigger_resource_update",
];

/// `everything_mcp_server.py` as extension `name`, declared by `mcp_server.command`, its tools on.
pub fn add_everything(home: &std::path::Path, name: &str) {
    let extension = ExtensionFixture::new(home, name);
    std::fs::write(extension.dir().join("server.py"), fixture_text("everything_mcp_server.py")).unwrap();
    let config = serde_json::json!({
        "name": name,
        "version": "1",
        "mcp_server": {"command": [mcp::python().display().to_string(), "server.py"]}
    });
    std::fs::write(extension.dir().join("config.json"), config.to_string()).unwrap();
    std::fs::create_dir_all(extension.dir().join("tools")).unwrap();
    let flags: serde_json::Map<_, _> =
        EVERYTHING_TOOLS.iter().map(|tool| (tool.to_string(), serde_json::json!({"enabled_in_mcp": true}))).collect();
    std::fs::write(extension.dir().join("tools/tool_config.json"), serde_json::Value::Object(flags).to_string())
        .unwrap();
}

fn start_with_everything() -> TestLuna {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        add_everything(home, "everything");
    });
    luna.wait_running("everything_tools");
    luna
}

/// The suite's DNS-rebinding scenario wants a loopback name, and Luna's own.
fn local_url(luna: &TestLuna) -> String {
    format!("http://localhost:{}/api/mcp", luna.address.port())
}

#[test]
fn every_conformance_scenario_passes_through_luna_to_a_full_featured_stdio_server() {
    let luna = start_with_everything();
    let run = mcp::conformance(&local_url(&luna), None, &[]);
    assert!(run.passed, "{}\n--- luna log ---\n{}", run.report, luna.log());
}

fn url(luna: &TestLuna) -> String {
    format!("http://{}/api/mcp", luna.address)
}

fn text_of(result: &serde_json::Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

fn uris(listing: &serde_json::Value, list: &str, field: &str) -> Vec<String> {
    let items = listing[list].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|item| item[field].as_str().map(str::to_string)).collect()
}

/// MCP's code for an unknown resource: -32002 until 2026-07-28 made it invalid params.
fn not_found(protocol: &str) -> i64 {
    if protocol == mcp::LEGACY { -32002 } else { -32602 }
}

#[test]
fn a_python_sdk_client_reads_resources_gets_prompts_and_completes_over_both_protocols() {
    let luna = start_with_everything();
    for protocol in mcp::PROTOCOLS {
        let listing = mcp::sdk(&url(&luna), protocol, None, &["resources"]);
        assert_eq!(
            uris(&listing.json, "resources", "uri"),
            ["test://static-binary", "test://static-text", "test://watched-resource"],
            "{protocol}: {:?}",
            listing.json
        );
        assert_eq!(uris(&listing.json, "templates", "uriTemplate"), ["test://template/{id}/data"], "{protocol}");

        let text = mcp::sdk(&url(&luna), protocol, None, &["read", "test://static-text"]);
        assert_eq!(text.json["contents"][0]["mimeType"], "text/plain", "{protocol}: {:?}", text.json);
        assert!(text.json["contents"][0]["text"].as_str().unwrap().contains("static text resource"));
        let binary = mcp::sdk(&url(&luna), protocol, None, &["read", "test://static-binary"]);
        assert!(binary.json["contents"][0]["blob"].as_str().is_some_and(|blob| !blob.is_empty()), "{protocol}");
        // A URI no resource lists is read from the template it matches, by that server.
        let templated = mcp::sdk(&url(&luna), protocol, None, &["read", "test://template/123/data"]);
        assert!(
            templated.json["contents"][0]["text"].as_str().unwrap().contains("123"),
            "{protocol}: {:?}",
            templated.json
        );
        let unknown = mcp::sdk(&url(&luna), protocol, None, &["read", "test://nothing-here"]);
        assert_eq!(unknown.json["jsonrpc_error"]["code"], not_found(protocol), "{protocol}: {:?}", unknown.json);

        let prompts = mcp::sdk(&url(&luna), protocol, None, &["prompts"]);
        assert_eq!(
            uris(&prompts.json, "prompts", "name"),
            [
                "test_prompt_with_arguments",
                "test_prompt_with_embedded_resource",
                "test_prompt_with_image",
                "test_simple_prompt"
            ],
            "{protocol}: {:?}",
            prompts.json
        );
        let arguments = r#"{"arg1": "first", "arg2": "second"}"#;
        let prompt = mcp::sdk(&url(&luna), protocol, None, &["prompt", "test_prompt_with_arguments", arguments]);
        let messages = prompt.json["messages"].to_string();
        assert!(messages.contains("first") && messages.contains("second"), "{protocol}: {messages}");
        // The server's own error reaches the client as it is: a required argument is missing.
        let missing = mcp::sdk(&url(&luna), protocol, None, &["prompt", "test_prompt_with_arguments", "{}"]);
        assert!(missing.json["jsonrpc_error"]["code"].is_i64(), "{protocol}: {:?}", missing.json);

        let completed =
            mcp::sdk(&url(&luna), protocol, None, &["complete", "test_prompt_with_arguments", "arg1", "test-t"]);
        assert_eq!(completed.json["values"], serde_json::json!(["test-two"]), "{protocol}: {:?}", completed.json);
    }
}

#[test]
fn log_messages_sampling_and_elicitation_reach_the_client_that_made_the_call() {
    let luna = start_with_everything();
    let url = url(&luna);
    for protocol in mcp::PROTOCOLS {
        let logged = mcp::sdk(&url, protocol, None, &["call", "test_tool_with_logging", "{}", "--log-level", "debug"]);
        let logs = logged.json["logs"].as_array().cloned().unwrap_or_default();
        assert_eq!(logs.len(), 3, "{protocol}: {:?}", logged.json);
        assert_eq!(logs[0]["level"], "info", "{protocol}: {logs:?}");
        // The session's level filters what it gets; the server itself is shared and not told.
        let quiet = mcp::sdk(&url, protocol, None, &["call", "test_tool_with_logging", "{}", "--log-level", "error"]);
        assert_eq!(quiet.json["logs"], serde_json::json!([]), "{protocol}: {:?}", quiet.json);
    }

    let sampled =
        mcp::sdk(&url, mcp::LEGACY, None, &["call", "test_sampling", r#"{"prompt": "2+2?"}"#, "--sample", "four"]);
    assert_eq!(text_of(&sampled.json), "LLM response: four", "{:?}", sampled.json);
    let asked = &sampled.json["requests"][0];
    assert_eq!(asked["method"], "sampling/createMessage");
    assert_eq!(asked["params"]["messages"][0]["content"]["text"], "2+2?");

    let answer = r#"{"username": "ada", "email": "ada@example.com"}"#;
    let elicited =
        mcp::sdk(&url, mcp::LEGACY, None, &["call", "test_elicitation", r#"{"message": "Who?"}"#, "--elicit", answer]);
    assert!(text_of(&elicited.json).contains(r#""username": "ada""#), "{:?}", elicited.json);
    assert_eq!(elicited.json["requests"][0]["params"]["message"], "Who?");

    // A client that did not declare sampling is not asked: the server gets an error at once
    // and says so in its result (no hang until a timeout).
    let undeclared = mcp::sdk(&url, mcp::LEGACY, None, &["call", "test_sampling", r#"{"prompt": "2+2?"}"#]);
    assert_eq!(undeclared.json["isError"], true, "{:?}", undeclared.json);
    assert!(text_of(&undeclared.json).contains("does not support sampling"), "{:?}", undeclared.json);
}

#[test]
fn a_servers_request_never_reaches_a_session_whose_call_did_not_cause_it() {
    let luna = start_with_everything();
    let url = url(&luna);
    // Session B waits in a call of its own, ready to answer sampling.
    let waiting = mcp::sdk_started(
        &url,
        mcp::LEGACY,
        &["call", "slow_echo", r#"{"text": "b", "seconds": 4}"#, "--sample", "B's answer"],
    );
    let server_log = luna.path().join(".luna/logs/everything_tools.log");
    let in_flight = || std::fs::read_to_string(&server_log).is_ok_and(|log| log.contains("slow_echo: waiting"));
    let started = std::time::Instant::now();
    while !in_flight() {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "slow_echo never started");
        std::thread::yield_now();
    }
    // Session A's call asks for sampling while B's call is in flight on the same server: Luna
    // cannot tell whose request it is, so neither is asked.
    let sampled = mcp::sdk(
        &url,
        mcp::LEGACY,
        None,
        &["call", "test_sampling", r#"{"prompt": "secret"}"#, "--sample", "A's answer"],
    );
    assert_eq!(sampled.json["isError"], true, "{:?}", sampled.json);
    assert!(text_of(&sampled.json).contains("several clients"), "{:?}", sampled.json);
    assert_eq!(sampled.json["requests"], serde_json::json!([]));
    let b = waiting.outcome();
    assert_eq!(text_of(&b.json), "b", "{:?}", b.json);
    assert_eq!(b.json["requests"], serde_json::json!([]), "B never sees A's request: {:?}", b.json);

    // Alone on the server again, A is asked.
    let alone =
        mcp::sdk(&url, mcp::LEGACY, None, &["call", "test_sampling", r#"{"prompt": "hi"}"#, "--sample", "A's answer"]);
    assert_eq!(text_of(&alone.json), "LLM response: A's answer", "{:?}", alone.json);
}

#[test]
fn a_subscribed_session_hears_of_updates_and_a_switched_off_offer_is_neither_listed_nor_served() {
    let luna = start_with_everything();
    let url = url(&luna);
    let update = r#"{"uri": "test://watched-resource"}"#;
    let subscribed =
        mcp::sdk(&url, mcp::LEGACY, None, &["subscribe", "test://watched-resource", "trigger_resource_update", update]);
    // The fixture notifies only URIs subscribed at the server: Luna passed the subscription on.
    assert_eq!(subscribed.json["updated"], serde_json::json!(["test://watched-resource"]), "{:?}", subscribed.json);

    let switch = |kind: &str, key: &str, on: bool| {
        let body = serde_json::json!({"kind": kind, "key": key, "enabled_in_mcp": on}).to_string();
        let headers = [("Content-Type", "application/json")];
        let answer = crate::support::raw_http::request_unix_with_body(
            &luna.api_socket(),
            "POST",
            "/api/supervisor/offers",
            &headers,
            &body,
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        serde_json::from_str::<serde_json::Value>(&answer.body).unwrap()
    };
    // Sessions are told, each list on its own.
    let (mut resources_watcher, ready) = mcp::Watcher::start_for(&url, "resources");
    assert_eq!(ready["resources"].as_array().map(Vec::len), Some(3), "{ready}");
    let (mut prompts_watcher, _) = mcp::Watcher::start_for(&url, "prompts");
    let off = switch("resource", "test://static-text", false);
    let changed = resources_watcher.next(std::time::Duration::from_secs(30));
    assert_eq!(
        changed["resources"],
        serde_json::json!(["test://static-binary", "test://watched-resource"]),
        "{changed}"
    );
    assert_eq!((off["enabled_in_mcp"].clone(), off["in_mcp"].clone()), (false.into(), false.into()), "{off}");
    switch("resource", "test://template/{id}/data", false);
    switch("prompt", "test_simple_prompt", false);
    let changed = prompts_watcher.next(std::time::Duration::from_secs(30));
    assert_eq!(changed["changed"], true, "{changed}");
    assert_eq!(changed["prompts"].as_array().map(Vec::len), Some(3), "{changed}");
    for protocol in mcp::PROTOCOLS {
        let listing = mcp::sdk(&url, protocol, None, &["resources"]);
        assert_eq!(
            uris(&listing.json, "resources", "uri"),
            ["test://static-binary", "test://watched-resource"],
            "{protocol}"
        );
        assert_eq!(uris(&listing.json, "templates", "uriTemplate"), Vec::<String>::new(), "{protocol}");
        for uri in ["test://static-text", "test://template/123/data"] {
            let read = mcp::sdk(&url, protocol, None, &["read", uri]);
            assert_eq!(read.json["jsonrpc_error"]["code"], not_found(protocol), "{protocol} {uri}: {:?}", read.json);
        }
        let prompt = mcp::sdk(&url, protocol, None, &["prompt", "test_simple_prompt"]);
        assert!(prompt.json["jsonrpc_error"].is_object(), "{protocol}: {:?}", prompt.json);
    }
    let report = luna.get_json("/api/supervisor/tools");
    let entry = report["offers"].as_array().unwrap().iter().find(|entry| entry["key"] == "test_simple_prompt").cloned();
    assert_eq!(entry.unwrap()["in_mcp"], false, "the Hub shows it switched off");
    let master: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(luna.path().join(".luna/master_config.json")).unwrap()).unwrap();
    assert_eq!(master["prompt_configs"]["test_simple_prompt"]["enabled_in_mcp"], false, "kept across restarts");

    switch("resource", "test://static-text", true);
    let back = mcp::sdk(&url, mcp::LEGACY, None, &["read", "test://static-text"]);
    assert!(back.json["contents"].is_array(), "{:?}", back.json);
    let unknown = crate::support::raw_http::request_unix_with_body(
        &luna.api_socket(),
        "POST",
        "/api/supervisor/offers",
        &[("Content-Type", "application/json")],
        r#"{"kind": "prompt", "key": "no_such_prompt", "enabled_in_mcp": false}"#,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}

#[test]
fn the_inspector_cli_reads_a_resource_and_gets_a_prompt_over_both_protocols() {
    let luna = start_with_everything();
    for protocol in mcp::PROTOCOLS {
        let read = mcp::inspector(&url(&luna), protocol, None, &["read", "test://template/7/data"]);
        let text = read.json["result"]["contents"][0]["text"].as_str().unwrap_or_default();
        assert!(text.contains(r#""id": "7""#) || text.contains(r#""id":"7""#), "{protocol}: {:?}", read.json);
        let prompt = mcp::inspector(
            &url(&luna),
            protocol,
            None,
            &["prompt", "test_prompt_with_arguments", "arg1=x1", "arg2=y2"],
        );
        let messages = prompt.json["result"]["messages"].to_string();
        assert!(messages.contains("x1") && messages.contains("y2"), "{protocol}: {:?}", prompt.json);
    }
}

#[test]
fn a_client_that_cancels_its_call_has_the_server_stop_it() {
    let luna = start_with_everything();
    let arguments = r#"{"text": "never", "seconds": 60}"#;
    let cancelled = mcp::sdk(&url(&luna), mcp::LEGACY, None, &["call", "slow_echo", arguments, "--cancel-on-progress"]);
    assert_eq!(cancelled.json["cancelled"], true, "{:?}", cancelled.json);
    // Luna passes `notifications/cancelled` on: the server's call ends long before its 60 s.
    let server_log = luna.path().join(".luna/logs/everything_tools.log");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&server_log).is_ok_and(|log| log.contains("slow_echo: cancelled")) {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the server was not told:\n{}", luna.log());
        std::thread::yield_now();
    }
}

/// The scenarios about what a Luna-style Python extension cannot offer: it has tools only (no
/// resources, prompts or completions).
const NOT_FOR_PYTHON_TOOLS: [&str; 10] = [
    "completion-complete",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
];

#[test]
fn every_conformance_scenario_a_python_tool_can_meet_passes_with_luna_style_tools() {
    let tools: Vec<&str> =
        EVERYTHING_TOOLS.into_iter().filter(|tool| !["slow_echo", "trigger_resource_update"].contains(tool)).collect();
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        crate::mcp::add_tools_extension(home, "conformance", &fixture_text("conformance_tools.py"), &tools);
    });
    luna.wait_running("conformance_tools");
    // The baseline fails the run if one of these passes: the list cannot go stale.
    let run = mcp::conformance(&local_url(&luna), None, &NOT_FOR_PYTHON_TOOLS);
    assert!(run.passed, "{}\n--- luna log ---\n{}", run.report, luna.log());
}

#[test]
fn a_prompt_name_or_resource_uri_two_extensions_share_is_served_by_the_first_and_reported_for_the_other() {
    let luna = TestLuna::start_with(|home| {
        write_config_with(home, FAST_SUPERVISION, "");
        add_everything(home, "alpha");
        add_everything(home, "beta");
    });
    luna.wait_running("alpha_tools");
    luna.wait_running("beta_tools");
    for protocol in mcp::PROTOCOLS {
        let prompts = mcp::sdk(&url(&luna), protocol, None, &["prompts"]);
        assert_eq!(uris(&prompts.json, "prompts", "name").len(), 4, "once each: {:?}", prompts.json);
        let listing = mcp::sdk(&url(&luna), protocol, None, &["resources"]);
        assert_eq!(uris(&listing.json, "resources", "uri").len(), 3, "{protocol}: {:?}", listing.json);
        assert_eq!(uris(&listing.json, "templates", "uriTemplate").len(), 1, "{protocol}");
    }
    let report = luna.get_json("/api/supervisor/tools");
    let offers = report["offers"].as_array().unwrap();
    let of = |extension: &str| offers.iter().filter(|offer| offer["extension"] == extension).collect::<Vec<_>>();
    assert!(of("alpha").iter().all(|offer| offer["in_mcp"] == true && offer["problem"].is_null()), "{offers:#?}");
    let beta = of("beta");
    assert_eq!(beta.len(), 8, "listed all the same: {offers:#?}");
    for offer in beta {
        assert_eq!(offer["in_mcp"], false, "{offer}");
        assert!(offer["problem"].as_str().unwrap().contains("already offered by extension `alpha`"), "{offer}");
    }
}
