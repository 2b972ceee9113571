//! The Agent API against the official OpenAI Python SDK as its client and a stand-in
//! OpenAI-compatible model ([`StandInLlm`]) behind it, with real tool hosts: models,
//! answers streamed and not, tool calls, corrections, passthrough, limits, keys, the Hub's
//! session, and a client that goes away mid-turn.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::mcp::{add_hello, fixture_text};
use crate::support::browser::Browser;
use crate::support::extension::{API_SERVICE, ExtensionFixture, FAST_SUPERVISION, write_config_with};
use crate::support::github::{GithubUser, StandInGithub};
use crate::support::llm::{Reply, StandInLlm};
use crate::support::luna::{TestLuna, luna_command};
use crate::support::raw_http;

const UPSTREAM_KEY: &str = "sk-upstream-test-key";

/// The `trouble` extension (slow, raising tools), `TROUBLE_GET_big` flagged `passthrough`.
fn add_trouble(home: &Path) {
    let extension = ExtensionFixture::new(home, "trouble");
    let tools = extension.dir().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::write(tools.join("trouble_tools.py"), fixture_text("trouble_tools.py")).unwrap();
    let flags = json!({
        "TROUBLE_GET_sleep": {"enabled_in_mcp": false, "passthrough": false},
        "TROUBLE_GET_big": {"enabled_in_mcp": false, "passthrough": true},
        "TROUBLE_ACTION_raise": {"enabled_in_mcp": false, "passthrough": false},
    });
    std::fs::write(tools.join("tool_config.json"), flags.to_string()).unwrap();
}

/// A local Luna whose agents talk to `llm`, with `hello` and `trouble`; `more` is more of
/// `luna.toml` (after its `[agent]` table).
fn luna_with_agents(llm: &StandInLlm, more: &str) -> TestLuna {
    let config = format!("[agent]\nllm_base_url = \"{}\"\n{more}", llm.base_url());
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), format!("OPENAI_API_KEY={UPSTREAM_KEY}\n")).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        add_hello(home);
        add_trouble(home);
    });
    luna.wait_running("hello_tools");
    luna.wait_running("trouble_tools");
    luna
}

fn agent_key(luna: &TestLuna) -> String {
    let output = luna_command(luna.path()).args(["token", "--agent"]).output().unwrap();
    assert!(output.status.success(), "luna token --agent: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// `tests/mcp_clients/openai_chat.py` with `args`: the JSON it printed last.
fn sdk(luna: &TestLuna, key: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_clients/openai_chat.py");
    let base_url = format!("http://{}/api/agent/v1", luna.address);
    // `--key=…`: a generated key may start with `-`.
    let output = Command::new(crate::support::mcp::python())
        .arg(script)
        .args([format!("--base-url={base_url}"), format!("--key={key}")])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().rev().find(|line| line.starts_with('{'));
    let stderr = String::from_utf8_lossy(&output.stderr);
    serde_json::from_str(last.unwrap_or_else(|| panic!("no answer from the SDK: {stderr}\n{}", luna.log()))).unwrap()
}

fn ask(text: &str) -> String {
    json!([{"role": "user", "content": text}]).to_string()
}

/// The messages the model was sent in its `n`th request.
fn sent_messages(llm: &StandInLlm, n: usize) -> Vec<Value> {
    llm.requests()[n]["messages"].as_array().unwrap().clone()
}

#[test]
fn the_openai_sdk_lists_the_agents_and_gets_answers_streamed_and_whole() {
    let llm = StandInLlm::start();
    let luna = luna_with_agents(&llm, "");
    let key = agent_key(&luna);
    assert!(key.starts_with("sk-luna-"), "{key}");

    let models = sdk(&luna, &key, &["models"]);
    assert_eq!(models["models"], json!(["simple_agent", "passthrough_agent"]), "{models}");

    llm.script([Reply::Text("Hello there, Ada.".into())]);
    let whole = sdk(&luna, &key, &["chat", "simple_agent", &ask("hi")]);
    assert_eq!((whole["ok"].clone(), whole["content"].clone()), (json!(true), json!("Hello there, Ada.")), "{whole}");
    assert_eq!(whole["finish_reason"], "stop");
    assert_eq!(whole["model"], "simple_agent");
    assert!(whole["usage"]["total_tokens"].as_u64().unwrap() > 0, "{whole}");

    llm.script([Reply::Text("A streamed answer in several pieces.".into())]);
    let streamed = sdk(&luna, &key, &["chat", "simple_agent", &ask("hi"), "--stream"]);
    assert_eq!(streamed["content"], "A streamed answer in several pieces.", "{streamed}");
    assert_eq!(streamed["finish_reason"], "stop");
    assert!(streamed["chunks"].as_u64().unwrap() > 3, "streamed, not one chunk: {streamed}");
    assert!(streamed["usage"]["total_tokens"].as_u64().unwrap() > 0, "usage in the last chunk: {streamed}");

    // What the model was sent: the configured model, the key from .env, the tools of every
    // enabled extension (MCP's flags do not matter to agents) and their system prompts.
    assert_eq!(llm.authorizations()[0].as_deref(), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));
    let request = &llm.requests()[0];
    assert_eq!(request["model"], "gpt-4.1");
    let tools: Vec<&str> =
        request["tools"].as_array().unwrap().iter().map(|tool| tool["function"]["name"].as_str().unwrap()).collect();
    assert!(tools.contains(&"HELLO_GET_greeting") && tools.contains(&"TROUBLE_GET_sleep"), "{tools:?}");
    assert!(!tools.iter().any(|tool| tool.starts_with("luna_")), "no admin tools for agents: {tools:?}");
    let system = sent_messages(&llm, 0)[0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("The user can ask for a friendly greeting."), "{system}");
}

#[test]
fn a_tool_call_is_answered_with_its_result_and_a_failing_tool_is_corrected_or_given_up() {
    let llm = StandInLlm::start();
    let luna = luna_with_agents(&llm, "");
    let key = agent_key(&luna);

    llm.script([
        Reply::ToolCalls(vec![("call_1".into(), "HELLO_GET_greeting".into(), r#"{"name": "Ada"}"#.into())]),
        Reply::Text("The greeting is: Hello, Ada!".into()),
    ]);
    let answer = sdk(&luna, &key, &["chat", "simple_agent", &ask("say hello to Ada"), "--stream", "--events"]);
    assert_eq!(answer["content"], "The greeting is: Hello, Ada!", "{answer}");
    let tools = answer["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2, "started and finished: {answer}");
    assert_eq!((tools[1]["name"].clone(), tools[1]["status"].clone()), (json!("HELLO_GET_greeting"), json!("ok")));
    assert!(tools[1]["result"].as_str().unwrap().contains("Hello, Ada!"), "{answer}");
    // The model's second request carries its call and the tool's result.
    let messages = sent_messages(&llm, 1);
    let result = messages.iter().find(|message| message["role"] == "tool").expect("a tool message");
    assert_eq!(result["tool_call_id"], "call_1");
    assert!(result["content"].as_str().unwrap().contains("Hello, Ada!"), "{result}");

    // A failing call, corrected by the model on its next try.
    let raise = |id: &str| {
        Reply::ToolCalls(vec![(id.into(), "TROUBLE_ACTION_raise".into(), r#"{"message": "disk on fire"}"#.into())])
    };
    llm.script([raise("call_a"), Reply::Text("Recovered after the error.".into())]);
    let corrected = sdk(&luna, &key, &["chat", "simple_agent", &ask("break something")]);
    assert_eq!(corrected["content"], "Recovered after the error.", "{corrected}");
    let shown = sent_messages(&llm, 3);
    assert!(
        shown.iter().any(|message| message["content"].as_str().is_some_and(|text| text.contains("disk on fire"))),
        "the model saw the error"
    );

    // Failing again and again: two corrections, then an honest answer.
    llm.script([raise("call_b"), raise("call_c"), raise("call_d")]);
    let given_up = sdk(&luna, &key, &["chat", "simple_agent", &ask("break something")]);
    let text = given_up["content"].as_str().unwrap();
    assert!(text.contains("could not finish") && text.contains("disk on fire"), "{given_up}");
    assert_eq!(llm.remaining(), 0, "three model calls, no fourth");
}

#[test]
fn the_passthrough_agent_answers_directly_or_with_a_passthrough_tools_result() {
    let llm = StandInLlm::start();
    let luna = luna_with_agents(&llm, "");
    let key = agent_key(&luna);

    // A tool flagged `passthrough`: its result is the answer, with no second model call.
    llm.script([Reply::ToolCalls(vec![("call_1".into(), "TROUBLE_GET_big".into(), r#"{"size": 12}"#.into())])]);
    let answer = sdk(&luna, &key, &["chat", "passthrough_agent", &ask("give me twelve x")]);
    assert_eq!(answer["content"], "xxxxxxxxxxxx", "{answer}");
    assert_eq!(llm.requests().len(), 1, "the result was not sent back to the model");

    // No tool fits: the model answers through DIRECT_RESPONSE.
    llm.script([Reply::ToolCalls(vec![(
        "call_2".into(),
        "DIRECT_RESPONSE".into(),
        r#"{"answer": "Just so."}"#.into(),
    )])]);
    let direct = sdk(&luna, &key, &["chat", "passthrough_agent", &ask("how are you")]);
    assert_eq!(direct["content"], "Just so.", "{direct}");
    assert!(llm.requests()[1]["tools"].to_string().contains("DIRECT_RESPONSE"));

    // The simple agent has no DIRECT_RESPONSE.
    llm.script([Reply::Text("Fine.".into())]);
    sdk(&luna, &key, &["chat", "simple_agent", &ask("how are you")]);
    assert!(!llm.requests()[2]["tools"].to_string().contains("DIRECT_RESPONSE"));
}

#[test]
fn limits_end_a_turn_with_a_message_and_the_model_is_retried_on_429() {
    let llm = StandInLlm::start();
    let luna = luna_with_agents(&llm, "max_steps = 2\n");
    let key = agent_key(&luna);

    let sleep = |id: &str| Reply::ToolCalls(vec![(id.into(), "TROUBLE_GET_sleep".into(), r#"{"seconds": 0}"#.into())]);
    llm.script([sleep("call_1"), sleep("call_2")]);
    let stopped = sdk(&luna, &key, &["chat", "simple_agent", &ask("loop forever"), "--stream"]);
    assert_eq!(stopped["finish_reason"], "length", "{stopped}");
    assert!(stopped["content"].as_str().unwrap().contains("agent.max_steps (2)"), "{stopped}");

    llm.script([Reply::RateLimited { retry_after_secs: 1 }, Reply::Text("After the wait.".into())]);
    let retried = sdk(&luna, &key, &["chat", "simple_agent", &ask("hi")]);
    assert_eq!(retried["content"], "After the wait.", "{retried}");

    llm.script([Reply::FailMidStream("Half an ans".into())]);
    let broken = sdk(&luna, &key, &["chat", "simple_agent", &ask("hi"), "--stream"]);
    assert_eq!(broken["ok"], false, "a model that breaks off is an error, not a short answer: {broken}");
}

#[test]
fn keys_are_checked_in_every_mode_and_memories_reach_the_model() {
    let llm = StandInLlm::start();
    let luna = luna_with_agents(&llm, "");
    let wrong = sdk(&luna, "sk-luna-wrong", &["models"]);
    assert_eq!(
        (wrong["error"].clone(), wrong["status"].clone()),
        (json!("AuthenticationError"), json!(401)),
        "{wrong}"
    );
    let none = raw_http::request_with_body(
        luna.address,
        "POST",
        "/api/agent/v1/chat/completions",
        &[("Authorization", "Bearer ")],
        "{}",
    );
    assert_eq!(none.status, 401, "{}", none.body);

    let key = agent_key(&luna);
    llm.script([Reply::Text("Noted.".into())]);
    let memory = json!(["prefers tea", "lives in Lisbon"]).to_string();
    let answer = sdk(&luna, &key, &["chat", "simple_agent", &ask("hi"), "--memory", &memory]);
    assert_eq!(answer["content"], "Noted.", "{answer}");
    let system = sent_messages(&llm, 0)[0]["content"].as_str().unwrap().to_string();
    assert!(system.contains("prefers tea") && system.contains("lives in Lisbon"), "{system}");
    let bad = sdk(&luna, &key, &["chat", "simple_agent", &ask("hi"), "--memory", "not json"]);
    assert_eq!(bad["status"], 400, "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("X-Luna-Memory"), "{bad}");
    let unknown = sdk(&luna, &key, &["chat", "gpt-4o", &ask("hi")]);
    assert_eq!(unknown["status"], 404, "{unknown}");
}

#[test]
fn a_client_that_goes_away_cancels_the_tool_call_in_flight() {
    let llm = StandInLlm::start();
    let luna = luna_with_agents(&llm, "");
    let key = agent_key(&luna);
    llm.script([Reply::ToolCalls(vec![("call_1".into(), "TROUBLE_GET_sleep".into(), r#"{"seconds": 5}"#.into())])]);
    let stopped = sdk(&luna, &key, &["chat", "simple_agent", &ask("sleep"), "--stream", "--events", "--stop-at-tool"]);
    assert_eq!(stopped["stopped"], true, "{stopped}");
    let log = luna.path().join(".luna/logs/trouble_tools.log");
    crate::support::wait_until(Duration::from_secs(10), "the tool host to hear of the cancellation", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("cancelled: the caller went away"))
    });
    assert_eq!(llm.remaining(), 0);
    assert_eq!(llm.requests().len(), 1, "no model call after the client left");
}

fn ada() -> GithubUser {
    GithubUser { id: 4242, login: "ada".into(), orgs: vec![] }
}

#[test]
fn the_hubs_session_reaches_the_agents_through_the_gateway_and_other_origins_do_not() {
    let llm = StandInLlm::start();
    let github = StandInGithub::start(ada());
    let config =
        format!("[agent]\nllm_base_url = \"{}\"\n{}", llm.base_url(), github.config("allowed_users = [\"ada\"]"));
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), format!("{}OPENAI_API_KEY={UPSTREAM_KEY}\n", StandInGithub::env_file()))
            .unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        add_hello(home);
    });
    luna.wait_running("hello_tools");
    let body = json!({"model": "simple_agent", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let post = |browser: &mut Browser, headers: &[(&str, &str)]| {
        let mut all = vec![("Content-Type", "application/json"), ("X-Requested-With", "XMLHttpRequest")];
        all.extend_from_slice(headers);
        browser.request_with_body(luna.address, "POST", "/api/agent/v1/chat/completions", &all, &body)
    };

    let mut stranger = Browser::default();
    assert_eq!(post(&mut stranger, &[]).status, 401, "no session, no key");

    let mut browser = Browser::default();
    browser.login(luna.address, "/");
    llm.script([Reply::Text("Hi Ada.".into())]);
    let answer = post(&mut browser, &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(serde_json::from_str::<Value>(&answer.body).unwrap()["choices"][0]["message"]["content"], "Hi Ada.");
    let app = format!("http://{}", luna.app_host("hello"));
    let from_app = post(&mut browser, &[("Origin", &app), ("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "cors")]);
    assert_eq!(from_app.status, 403, "an app's page may not use the Hub's session: {}", from_app.body);
    assert_eq!(llm.requests().len(), 1);
}

#[test]
fn in_chromium_the_chat_page_streams_an_answer_and_shows_the_tool_call() {
    let llm = StandInLlm::start();
    let luna = luna_with_agents(&llm, "");
    llm.script([
        Reply::ToolCalls(vec![("call_1".into(), "HELLO_GET_greeting".into(), r#"{"name": "Ada"}"#.into())]),
        Reply::Text("The tool says: Hello, Ada!".into()),
    ]);
    let summary = crate::hub::journey(&luna, "chat", &[]);
    assert_eq!(summary["answer"], "The tool says: Hello, Ada!", "{summary:#}");
    let tools = summary["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1, "{summary:#}");
    assert_eq!((tools[0]["name"].clone(), tools[0]["status"].clone()), (json!("HELLO_GET_greeting"), json!("ok")));
    assert!(tools[0]["result"].as_str().unwrap().contains("Hello, Ada!"), "{summary:#}");
    assert_eq!(summary["snippet_has_key_placeholder"], true, "{summary:#}");
    assert_eq!(summary["page_has_key"], false, "the page never holds the key: {summary:#}");
}

#[test]
fn an_extension_calls_the_agents_with_a_key_of_its_own() {
    let llm = StandInLlm::start();
    let config = format!("[agent]\nllm_base_url = \"{}\"\n", llm.base_url());
    let luna = TestLuna::start_with(|home| {
        std::fs::write(home.join(".env"), format!("OPENAI_API_KEY={UPSTREAM_KEY}\n")).unwrap();
        write_config_with(home, FAST_SUPERVISION, &config);
        add_hello(home);
        ExtensionFixture::new(home, "alpha").service("api", API_SERVICE, "service.py");
    });
    luna.wait_running("hello_tools");
    luna.wait_running("alpha.api");
    llm.script([
        Reply::ToolCalls(vec![("call_1".into(), "HELLO_GET_greeting".into(), r#"{"name": "Ada"}"#.into())]),
        Reply::Text("Hello, Ada!".into()),
    ]);

    let asked = luna.app_get("alpha", "/api/alpha/agent");

    assert_eq!(asked.status, 200, "{}", asked.body);
    let asked: Value = serde_json::from_str(&asked.body).unwrap();
    assert_eq!(asked["status"], 200, "{asked}");
    assert_eq!(asked["body"]["choices"][0]["message"]["content"], "Hello, Ada!");
    // The tool call is the owner's, made through alpha.
    crate::support::wait_until(Duration::from_secs(10), "the tool call in the audit log, through alpha", || {
        let audit = luna.get_json("/api/supervisor/audit?action=tool_call");
        audit.as_array().unwrap().iter().any(|entry| {
            entry["client"] == "extension:alpha"
                && entry["target"] == "HELLO_GET_greeting"
                && entry["principal"] == "owner"
        })
    });
}
