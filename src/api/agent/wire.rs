//! OpenAI's Chat Completions wire format, server side: what clients send and what they are
//! answered. Luna's own serde types rather than a client crate's: a server must accept
//! every spelling clients use (string or parts content, `developer` messages, fields it does
//! not know) and answer exactly what the SDKs parse, and the client crates' request types
//! are built for sending, not for accepting.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::agent::{FinishReason, Message, Role, ToolCall, Usage};

/// Messages per request, at most.
pub const MAX_MESSAGES: usize = 500;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// An agent: `simple_agent` or `passthrough_agent` (`GET /v1/models`).
    pub model: String,
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub tool_calls: Vec<WireToolCall>,
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub struct WireToolCall {
    pub id: String,
    pub function: WireFunction,
}

#[derive(Debug, Deserialize)]
pub struct WireFunction {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

impl ChatRequest {
    /// The conversation as Luna's messages; names the first message that cannot be one.
    pub fn conversation(self) -> Result<Vec<Message>, String> {
        if self.messages.is_empty() {
            return Err("messages: give at least one message".into());
        }
        if self.messages.len() > MAX_MESSAGES {
            return Err(format!("messages: {} messages, over the limit of {MAX_MESSAGES}", self.messages.len()));
        }
        self.messages
            .into_iter()
            .enumerate()
            .map(|(at, message)| {
                let role = match message.role.as_str() {
                    "system" | "developer" => Role::System,
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    "tool" => Role::Tool,
                    other => {
                        return Err(format!("messages[{at}].role: `{other}` is not system, user, assistant or tool"));
                    }
                };
                let content = match message.content {
                    None => String::new(),
                    Some(Content::Text(text)) => text,
                    Some(Content::Parts(parts)) => {
                        if let Some(part) = parts.iter().find(|part| part.kind != "text") {
                            return Err(format!(
                                "messages[{at}].content: `{}` parts are not supported, only text",
                                part.kind
                            ));
                        }
                        parts.into_iter().map(|part| part.text).collect::<Vec<_>>().join("")
                    }
                };
                let tool_calls = message
                    .tool_calls
                    .into_iter()
                    .map(|call| ToolCall { id: call.id, name: call.function.name, arguments: call.function.arguments })
                    .collect();
                Ok(Message { role, content, tool_calls, tool_call_id: message.tool_call_id })
            })
            .collect()
    }
}

/// `GET /v1/models`: one model per agent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<Model>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Model {
    pub id: &'static str,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: &'static str,
}

/// One answer's identity, the same on every chunk of a stream.
pub struct Answer {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl Answer {
    pub fn new(model: &str) -> Self {
        let created =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
        Self { id: format!("chatcmpl-luna-{}", crate::auth::random_token()), created, model: model.to_string() }
    }

    /// The non-streaming answer.
    pub fn completion(&self, text: &str, reason: FinishReason, usage: Usage) -> Value {
        json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason.as_str()}],
            "usage": usage_json(usage),
        })
    }

    /// A chunk whose only choice carries `delta` (and `finish_reason`, once).
    pub fn chunk(&self, delta: Value, reason: Option<FinishReason>) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason.map(FinishReason::as_str)}],
        })
    }

    /// The last chunk of a stream that asked for usage: no choice, the usage.
    pub fn usage_chunk(&self, usage: Usage) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [], "usage": usage_json(usage),
        })
    }

    /// Luna's own event (a tool call, for `X-Luna-Events: tools`): a chunk with no choice,
    /// which OpenAI clients pass over.
    pub fn luna_chunk(&self, luna: Value) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [], "luna": luna,
        })
    }
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total(),
    })
}

/// OpenAI's error body.
pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_conversation_is_read() {
        let request: ChatRequest = serde_json::from_value(json!({
            "model": "simple_agent",
            "temperature": 0.2,
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "hello", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "Hello!"},
            ],
        }))
        .unwrap();
        let messages = request.conversation().unwrap();
        assert_eq!(messages[0].role, Role::System);
        assert_eq!(messages[1].content, "hi there");
        assert_eq!(messages[2].tool_calls[0].name, "hello");
        assert_eq!(messages[3].tool_call_id.as_deref(), Some("c1"));
    }

    #[test]
    fn what_cannot_be_a_message_is_named() {
        let read = |messages: Value| {
            serde_json::from_value::<ChatRequest>(json!({"model": "simple_agent", "messages": messages}))
                .unwrap()
                .conversation()
                .unwrap_err()
        };
        assert!(read(json!([])).starts_with("messages:"));
        assert!(read(json!([{"role": "robot", "content": "x"}])).starts_with("messages[0].role"));
        let image = json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]);
        assert!(read(image).contains("image_url"));
    }
}
