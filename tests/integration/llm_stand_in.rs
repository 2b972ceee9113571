//! The stand-in OpenAI API (`support/llm.rs`) checked against the wire format the Agent API
//! tests rely on: if it drifted from OpenAI's, those tests would pass against a fiction.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::llm::{Reply, StandInLlm};
use crate::support::runtime;

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    /// The body as received, and whether it ended cleanly.
    body: String,
    complete: bool,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// The `data:` payloads of an SSE body, `[DONE]` kept as a string.
    fn events(&self) -> Vec<Value> {
        assert!(self.body.ends_with("\n\n") || !self.complete, "events end with a blank line: {:?}", self.body);
        self.body
            .split("\n\n")
            .filter(|event| !event.is_empty())
            .map(|event| {
                let data = event.strip_prefix("data: ").unwrap_or_else(|| panic!("not a data event: {event:?}"));
                serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_string()))
            })
            .collect()
    }
}

fn post_with(
    llm: &StandInLlm,
    authorization: Option<&str>,
    body: &Value,
    timeout: Duration,
) -> reqwest::Result<Answer> {
    runtime().block_on(async {
        let client = reqwest::Client::builder().timeout(timeout).build().unwrap();
        let mut request = client.post(format!("{}/chat/completions", llm.base_url())).json(body);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        let mut response = request.send().await?;
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let mut body = Vec::new();
        let complete = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        Ok(Answer { status, headers, body: String::from_utf8(body).unwrap(), complete })
    })
}

fn post(llm: &StandInLlm, body: Value) -> Answer {
    post_with(llm, Some("Bearer sk-test"), &body, Duration::from_secs(10)).unwrap()
}

fn messages() -> Value {
    json!([{ "role": "user", "content": "What is in /tmp?" }])
}

#[test]
fn text_is_one_chat_completion_echoing_the_model_with_usage() {
    let llm = StandInLlm::start();
    llm.script([Reply::Text("Nothing much.".into())]);
    let answer = post(&llm, json!({ "model": "gpt-4.1-mini", "messages": messages() }));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let completion = answer.json();
    assert!(completion["id"].as_str().unwrap().starts_with("chatcmpl-"), "{completion}");
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "gpt-4.1-mini");
    assert!(completion["created"].as_u64().unwrap() > 1_700_000_000);
    assert!(completion["system_fingerprint"].is_string());
    let choice = &completion["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Nothing much.");
    assert_eq!(choice["finish_reason"], "stop");
    let usage = &completion["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    assert_eq!(llm.requests(), vec![json!({ "model": "gpt-4.1-mini", "messages": messages() })]);
    assert_eq!(llm.authorizations(), vec![Some("Bearer sk-test".to_string())]);
    assert_eq!(llm.remaining(), 0);
}

#[test]
fn streamed_tool_calls_reassemble_to_the_scripted_arguments() {
    let llm = StandInLlm::start();
    let calls = [
        ("call_abc123", "list_files", r#"{"path":"/tmp","recursive":false}"#),
        ("call_def456", "read_file", r#"{"path":"/tmp/notes.txt"}"#),
    ];
    let scripted = calls.iter().map(|(id, name, arguments)| (id.to_string(), name.to_string(), arguments.to_string()));
    llm.script([Reply::ToolCalls(scripted.collect())]);
    let answer = post(&llm, json!({ "model": "gpt-4.1", "messages": messages(), "stream": true }));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.complete);
    assert!(answer.headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));

    let mut events = answer.events();
    assert_eq!(events.pop(), Some(json!("[DONE]")));
    let ids: Vec<&Value> = events.iter().map(|chunk| &chunk["id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one id for the whole stream");
    // Without stream_options.include_usage: no usage field at all, and no usage chunk.
    assert!(events.iter().all(|chunk| chunk.get("usage").is_none() && chunk["choices"].as_array().unwrap().len() == 1));

    let first = &events[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert_eq!(first["content"], Value::Null);
    assert_eq!(
        first["tool_calls"][0],
        json!({ "index": 0, "id": "call_abc123", "type": "function",
        "function": { "name": "list_files", "arguments": "" } })
    );

    let last = events.pop().unwrap();
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");

    // Reassemble as a client must: by index, concatenating argument fragments.
    let mut assembled: Vec<(String, String, String)> = Vec::new();
    let mut fragments = [0, 0];
    for chunk in &events {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["choices"][0]["finish_reason"], Value::Null);
        for call in chunk["choices"][0]["delta"]["tool_calls"].as_array().unwrap() {
            let index = call["index"].as_u64().unwrap() as usize;
            if let Some(id) = call["id"].as_str() {
                assert_eq!(assembled.len(), index);
                assembled.push((id.to_string(), call["function"]["name"].as_str().unwrap().to_string(), String::new()));
            } else {
                assert!(call.get("type").is_none() && call["function"].get("name").is_none(), "{call}");
                fragments[index] += 1;
            }
            assembled[index].2.push_str(call["function"]["arguments"].as_str().unwrap());
        }
    }
    let expected: Vec<(String, String, String)> =
        calls.iter().map(|(id, name, arguments)| (id.to_string(), name.to_string(), arguments.to_string())).collect();
    assert_eq!(assembled, expected);
    assert!(fragments.iter().all(|count| *count >= 3), "arguments come in 3+ fragments: {fragments:?}");
    let first_fragment = &events[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"];
    assert_eq!(first_fragment, r#"{"pa"#, "the first cut is mid-way through a key");
}

#[test]
fn the_usage_chunk_comes_only_with_include_usage() {
    let llm = StandInLlm::start();
    llm.script([Reply::Text("Two files and a directory.".into())]);
    let request = json!({ "model": "gpt-4.1", "messages": messages(), "stream": true,
        "stream_options": { "include_usage": true } });
    let mut events = post(&llm, request).events();
    assert_eq!(events.pop(), Some(json!("[DONE]")));
    let usage_chunk = events.pop().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert!(usage_chunk["usage"]["total_tokens"].as_u64().unwrap() > 0, "{usage_chunk}");
    assert!(events.iter().all(|chunk| chunk["usage"].is_null() && chunk.get("usage").is_some()));

    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(events[0]["choices"][0]["delta"]["content"], "");
    let contents: Vec<&str> =
        events.iter().filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(contents.len() > 3, "several content deltas: {contents:?}");
    assert_eq!(contents.concat(), "Two files and a directory.");
    assert_eq!(events.last().unwrap()["choices"][0]["finish_reason"], "stop");

    // And `stream_options` without `stream` is a 400, as on OpenAI.
    llm.script([Reply::Text("unused".into())]);
    let answer = post(
        &llm,
        json!({ "model": "gpt-4.1", "messages": messages(),
        "stream_options": { "include_usage": true } }),
    );
    assert_eq!((answer.status, answer.json()["error"]["param"].clone()), (400, json!("stream_options")));
}

#[test]
fn rate_limited_is_429_with_retry_after_and_server_error_is_500() {
    let llm = StandInLlm::start();
    llm.script([Reply::RateLimited { retry_after_secs: 7 }, Reply::ServerError]);
    let answer = post(&llm, json!({ "model": "gpt-4.1", "messages": messages(), "stream": true }));
    assert_eq!(answer.status, 429);
    assert_eq!(answer.headers["retry-after"], "7");
    let error = &answer.json()["error"];
    assert_eq!(
        (&error["type"], &error["code"], &error["param"]),
        (&json!("requests"), &json!("rate_limit_exceeded"), &Value::Null)
    );
    assert!(error["message"].as_str().unwrap().starts_with("Rate limit reached"));

    let answer = post(&llm, json!({ "model": "gpt-4.1", "messages": messages() }));
    assert_eq!(answer.status, 500);
    assert_eq!(answer.json()["error"]["type"], "server_error");
}

#[test]
fn requests_turned_away_consume_no_reply_and_an_empty_script_says_so() {
    let llm = StandInLlm::start();
    let body = json!({ "model": "gpt-4.1", "messages": messages() });
    for authorization in [None, Some("Basic c2stdGVzdDo="), Some("Bearer")] {
        let answer = post_with(&llm, authorization, &body, Duration::from_secs(10)).unwrap();
        assert_eq!(answer.status, 401, "{authorization:?}");
        assert_eq!(answer.json()["error"]["type"], "invalid_request_error");
    }
    let missing = [
        json!({ "model": "gpt-4.1" }),
        json!({ "model": "gpt-4.1", "messages": [] }),
        json!({ "messages": messages() }),
    ];
    for body in missing {
        let answer = post(&llm, body.clone());
        assert_eq!(answer.status, 400, "{body}");
        assert!(answer.json()["error"]["message"].is_string());
    }
    let answer = post(&llm, body);
    assert_eq!(answer.status, 500);
    assert_eq!(answer.json()["error"]["message"], "stand-in LLM: no scripted reply left");
    assert_eq!(llm.requests().len(), 7, "recorded before validation");
    assert_eq!(llm.authorizations()[..3], [None, Some("Basic c2stdGVzdDo=".to_string()), Some("Bearer".to_string())]);

    let models = runtime().block_on(async {
        let response = reqwest::Client::new()
            .get(format!("{}/models", llm.base_url()))
            .bearer_auth("sk-test")
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    });
    assert_eq!(models["data"][0]["id"], "gpt-4.1");
}

#[test]
fn a_stream_failing_mid_way_ends_with_an_error_event_and_no_done() {
    let llm = StandInLlm::start();
    llm.script([Reply::FailMidStream("Let me look".into())]);
    let answer = post(&llm, json!({ "model": "gpt-4.1", "messages": messages(), "stream": true }));
    assert_eq!(answer.status, 200);
    assert!(!answer.complete, "the body is cut, not ended");
    let events = answer.events();
    assert_eq!(events[1]["choices"][0]["delta"]["content"], "Let me look");
    assert_eq!(events.last().unwrap()["error"]["type"], "server_error");
    assert!(!events.contains(&json!("[DONE]")));
}

#[test]
fn a_slow_reply_holds_up_nothing_else() {
    let llm = StandInLlm::start();
    llm.script([Reply::Slow(Duration::from_secs(60), "late".into()), Reply::Text("prompt".into())]);
    let body = json!({ "model": "gpt-4.1", "messages": messages() });
    let started = Instant::now();
    let gave_up = post_with(&llm, Some("Bearer sk-test"), &body, Duration::from_millis(300));
    assert!(gave_up.is_err_and(|error| error.is_timeout()));
    let answer = post(&llm, body);
    assert_eq!(answer.json()["choices"][0]["message"]["content"], "prompt");
    assert!(started.elapsed() < Duration::from_secs(5));
}
