//! The client of the model: any OpenAI-compatible `/chat/completions` (OpenAI, OpenRouter,
//! Ollama, vLLM, LM Studio, LiteLLM...). The OpenAI wire format lives here and in the API's
//! edge only; the agent loop sees [`Message`]s and [`Reply`]s.
//!
//! Every call streams (`stream: true`, usage asked for in the last chunk): text reaches a
//! streaming client as the model writes it, and one parser serves both kinds of client.
//! Tool calls arrive split across chunks (`index`, then fragments of `arguments`) and are
//! assembled here. A 429 or 5xx before anything was received is retried with backoff
//! (`Retry-After` when the server says); a reply larger than [`MAX_REPLY_BYTES`] is refused.

use std::collections::BTreeMap;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Message, Role, ToolCall, ToolSpec, Usage};
use crate::settings::AgentSettings;

/// Tries per model call: the first and two retries.
const ATTEMPTS: u32 = 3;
/// Longest wait before a retry, whatever `Retry-After` says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(20);
/// A model's whole streamed reply, in bytes.
const MAX_REPLY_BYTES: usize = 8 << 20;
/// An error body read for its message.
const MAX_ERROR_BYTES: usize = 64 << 10;

pub struct Llm {
    http: reqwest::Client,
    settings: AgentSettings,
}

/// What the model answered in one call.
#[derive(Debug, Default)]
pub struct Reply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    /// `stop`, `tool_calls`, `length`, `content_filter`.
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("OPENAI_API_KEY is not set in .env: the Agent API needs a model to talk to")]
    NoKey,
    /// The endpoint answered with an error: its status and message.
    #[error("the model at {url} answered {status}: {message}")]
    Refused { url: String, status: u16, message: String },
    #[error("the model at {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the model's reply broke off: {0}")]
    Broken(String),
}

impl Llm {
    pub fn new(settings: AgentSettings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(settings.llm_timeout)
            .build()
            .expect("an HTTP client with timeouts");
        Self { http, settings }
    }

    pub fn settings(&self) -> &AgentSettings {
        &self.settings
    }

    /// One model call. `on_text` gets each piece of answer text as it arrives.
    pub async fn complete(
        &self,
        key: Option<&str>,
        messages: &[Message],
        tools: &[ToolSpec],
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, LlmError> {
        let key = key.filter(|key| !key.is_empty()).ok_or(LlmError::NoKey)?;
        let url = format!("{}/chat/completions", self.settings.base_url);
        let body = request_body(&self.settings.model, messages, tools);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = self.http.post(&url).bearer_auth(key).json(&body).send().await;
            let response = match sent {
                Ok(response) => response,
                Err(error) if attempt < ATTEMPTS && (error.is_connect() || error.is_timeout()) => {
                    tokio::time::sleep(backoff(attempt, None)).await;
                    continue;
                }
                Err(error) => return Err(LlmError::Unreachable { url, reason: error.to_string() }),
            };
            let status = response.status();
            if status.is_success() {
                return read_stream(response, on_text).await;
            }
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let message = error_message(response).await;
            let retryable = status.as_u16() == 429 || status.is_server_error();
            if retryable && attempt < ATTEMPTS {
                tracing::warn!(status = status.as_u16(), %message, attempt, "the model refused a call; retrying");
                tokio::time::sleep(backoff(attempt, retry_after)).await;
                continue;
            }
            return Err(LlmError::Refused { url, status: status.as_u16(), message });
        }
    }
}

/// Before try `attempt + 1`: what the server asked for, or 0.5 s doubling, with jitter.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let base = retry_after.unwrap_or(Duration::from_millis(500) * 2u32.pow(attempt - 1));
    let jitter = Duration::from_millis(rand::random::<u64>() % 100);
    (base + jitter).min(MAX_RETRY_WAIT)
}

/// The OpenAI request for `messages` and `tools`.
fn request_body(model: &str, messages: &[Message], tools: &[ToolSpec]) -> Value {
    let messages: Vec<Value> = messages.iter().map(wire_message).collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !tools.is_empty() {
        let tools: Vec<Value> = tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name, "description": tool.description, "parameters": tool.parameters,
                }})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

fn wire_message(message: &Message) -> Value {
    match message.role {
        Role::System => json!({"role": "system", "content": message.content}),
        Role::User => json!({"role": "user", "content": message.content}),
        Role::Assistant if message.tool_calls.is_empty() => json!({"role": "assistant", "content": message.content}),
        Role::Assistant => {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    json!({"id": call.id, "type": "function",
                           "function": {"name": call.name, "arguments": call.arguments}})
                })
                .collect();
            let content = (!message.content.is_empty()).then_some(message.content.as_str());
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Role::Tool => json!({
            "role": "tool", "tool_call_id": message.tool_call_id, "content": message.content,
        }),
    }
}

/// `error.message` of an OpenAI error body, else the body's start.
async fn error_message(response: reqwest::Response) -> String {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BYTES {
            break;
        }
    }
    #[derive(Deserialize)]
    struct Body {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        message: String,
    }
    match serde_json::from_slice::<Body>(&body) {
        Ok(parsed) => parsed.error.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string(),
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: usize,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// Reads a streamed reply: text pieces to `on_text`, tool calls assembled by index.
async fn read_stream(response: reqwest::Response, on_text: &mut (dyn FnMut(&str) + Send)) -> Result<Reply, LlmError> {
    let mut reply = Reply::default();
    let mut calls: BTreeMap<usize, ToolCall> = BTreeMap::new();
    let mut received = 0usize;
    let mut done = false;
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let event = event.map_err(|error| LlmError::Broken(error.to_string()))?;
        received += event.data.len();
        if received > MAX_REPLY_BYTES {
            return Err(LlmError::Broken(format!("the reply is over {MAX_REPLY_BYTES} bytes")));
        }
        if event.data.trim() == "[DONE]" {
            done = true;
            break;
        }
        let chunk: Chunk = serde_json::from_str(&event.data)
            .map_err(|error| LlmError::Broken(format!("a chunk is not what OpenAI sends: {error}")))?;
        if let Some(error) = chunk.error {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("an error").to_string();
            return Err(LlmError::Broken(message));
        }
        if let Some(usage) = chunk.usage {
            reply.usage = Usage { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens };
        }
        for choice in chunk.choices {
            if let Some(text) = choice.delta.content.filter(|text| !text.is_empty()) {
                on_text(&text);
                reply.text.push_str(&text);
            }
            for delta in choice.delta.tool_calls {
                let call = calls.entry(delta.index).or_default();
                if let Some(id) = delta.id {
                    call.id = id;
                }
                if let Some(function) = delta.function {
                    if let Some(name) = function.name {
                        call.name.push_str(&name);
                    }
                    if let Some(arguments) = function.arguments {
                        call.arguments.push_str(&arguments);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                reply.finish_reason = choice.finish_reason;
            }
        }
    }
    // Servers that end the stream without `[DONE]` still said they were finished.
    if !done && reply.finish_reason.is_none() {
        return Err(LlmError::Broken("the stream ended before the answer did".into()));
    }
    reply.tool_calls = calls.into_values().filter(|call| !call.name.is_empty()).collect();
    for (number, call) in reply.tool_calls.iter_mut().enumerate() {
        if call.id.is_empty() {
            call.id = format!("call_{number}");
        }
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_go_out_in_openais_shape() {
        let call = ToolCall { id: "call_1".into(), name: "hello".into(), arguments: "{}".into() };
        let messages = [
            Message::text(Role::System, "be brief"),
            Message::text(Role::User, "hi"),
            Message { role: Role::Assistant, content: String::new(), tool_calls: vec![call], tool_call_id: None },
            Message {
                role: Role::Tool,
                content: "Hello!".into(),
                tool_calls: vec![],
                tool_call_id: Some("call_1".into()),
            },
        ];
        let tools =
            [ToolSpec { name: "hello".into(), description: "greets".into(), parameters: json!({"type": "object"}) }];
        let body = request_body("gpt-4.1", &messages, &tools);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["messages"][2]["content"], Value::Null, "no text next to tool calls");
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["name"], "hello");
        assert_eq!(body["messages"][3]["tool_call_id"], "call_1");
        assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
    }

    #[test]
    fn backoff_follows_retry_after_within_its_cap() {
        assert!(backoff(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_RETRY_WAIT);
        assert!(backoff(2, None) >= Duration::from_secs(1));
    }
}
