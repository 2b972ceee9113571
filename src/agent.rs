//! The Agent API's application layer: agents that answer with the help of Luna's tools (SPEC
//! §8). An agent runs a loop of model calls ([`llm`]) and tool calls (the same
//! [`Luna::call_tool`] as `/api/mcp`: registry, flags, argument checks, timeouts, caps,
//! audit) until the model answers, within the request's limits (`[agent]`). It reports what
//! happens as [`AgentEvent`]s; the API turns them into OpenAI's answer or its SSE chunks.
//!
//! - `simple_agent`: the model calls tools until it can answer. A tool that fails is shown
//!   to the model, which may correct the call twice; a third failure in a row ends the turn
//!   with an honest message.
//! - `passthrough_agent`: the same, plus a `DIRECT_RESPONSE` tool for an answer that needs
//!   no tool, and a tool flagged `passthrough` whose call succeeds *is* the answer (no second
//!   model call).

pub mod llm;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::app::{Caller, Luna, Surface};

/// Corrective retries after a failed tool call, before the agent gives up.
const MAX_CORRECTIONS: u32 = 2;
/// The pseudo-tool of `passthrough_agent` for answering without a tool.
const DIRECT_RESPONSE: &str = "DIRECT_RESPONSE";
/// The `.env` key of the Agent API's bearer (`sk-luna-<random>`; Luna's own, never given to
/// an extension).
pub const AGENT_API_KEY: &str = "AGENT_API_KEY";

/// Whom an Agent API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHolder {
    /// `AGENT_API_KEY` itself.
    Owner,
    /// An extension's `LUNA_AGENT_KEY`: it acts for the owner who installed it.
    Extension(String),
}

/// How an extension's key starts: `sk-luna-ext-<extension>-<proof>`.
const EXTENSION_KEY_PREFIX: &str = "sk-luna-ext-";

/// The Agent API key of `extension` (its `LUNA_AGENT_KEY`): derived from `AGENT_API_KEY`, so
/// Luna stores nothing more and knows which extension calls; a new `AGENT_API_KEY` replaces
/// every extension's key.
pub fn extension_key(agent_api_key: &str, extension: &str) -> String {
    format!("{EXTENSION_KEY_PREFIX}{extension}-{}", extension_proof(agent_api_key, extension))
}

/// The extension a key of [`extension_key`]'s making belongs to, if it is one.
pub fn extension_of_key<'a>(agent_api_key: &str, key: &'a str) -> Option<&'a str> {
    let (extension, proof) = key.strip_prefix(EXTENSION_KEY_PREFIX)?.rsplit_once('-')?;
    let expected = extension_proof(agent_api_key, extension);
    (!extension.is_empty() && crate::auth::constant_time_eq(proof, &expected)).then_some(extension)
}

fn extension_proof(agent_api_key: &str, extension: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, agent_api_key.as_bytes());
    let tag = ring::hmac::sign(&key, format!("luna agent key of extension {extension}").as_bytes());
    crate::hex::lower(&tag.as_ref()[..20])
}

/// Memories given with `X-Luna-Memory`: at most this many, each at most this long.
pub const MAX_MEMORIES: usize = 100;
pub const MAX_MEMORY_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Simple,
    Passthrough,
}

impl Agent {
    pub const ALL: [Agent; 2] = [Agent::Simple, Agent::Passthrough];

    /// The model id clients ask for.
    pub fn id(self) -> &'static str {
        match self {
            Agent::Simple => "simple_agent",
            Agent::Passthrough => "passthrough_agent",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|agent| agent.id() == id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// An assistant's calls.
    pub tool_calls: Vec<ToolCall>,
    /// A tool message's call.
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// JSON text, as the model wrote it.
    pub arguments: String,
}

/// A tool as the model is shown it.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// One request to an agent.
pub struct AgentRequest {
    pub agent: Agent,
    /// The conversation so far, the client's system messages included.
    pub messages: Vec<Message>,
    /// From `X-Luna-Memory`: what the agent should know about the user.
    pub memories: Vec<String>,
    pub caller: Caller,
    /// Who asks on the caller's behalf (an extension), for the audit log.
    pub client: Option<String>,
}

/// What happens during a turn, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    /// A piece of the answer.
    Text(String),
    ToolStarted {
        id: String,
        name: String,
        arguments: String,
    },
    ToolFinished {
        id: String,
        name: String,
        ok: bool,
        result: String,
        took: Duration,
    },
    /// The turn is over; `reason` is OpenAI's `finish_reason`.
    Finished {
        reason: FinishReason,
        usage: Usage,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    /// A limit ended the turn (steps, tokens, time).
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// Why a turn could not be run at all (a limit or a failing tool ends it with a message).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Llm(#[from] llm::LlmError),
}

impl Luna {
    /// Whose Agent API key `key` is, if anyone's.
    pub fn agent_key_holder(&self, key: &str) -> Option<KeyHolder> {
        let secrets = self.secrets.current();
        let expected = secrets.get(AGENT_API_KEY).filter(|expected| !expected.is_empty())?;
        if crate::auth::constant_time_eq(key, expected) {
            return Some(KeyHolder::Owner);
        }
        extension_of_key(expected, key).map(|extension| KeyHolder::Extension(extension.to_string()))
    }

    /// Runs one turn of `request`, telling `emit` what happens. Dropping the future stops
    /// the model's stream and cancels a tool call in flight.
    pub async fn run_agent(
        &self,
        request: AgentRequest,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<(), AgentError> {
        let settings = self.llm.settings().clone();
        let deadline = Instant::now() + settings.max_duration;
        let key = self.secrets.current().get("OPENAI_API_KEY").map(str::to_string);
        let (mut tools, instructions) = self.agent_tools();
        if request.agent == Agent::Passthrough {
            tools.push(direct_response_tool());
        }
        let mut messages =
            vec![Message::text(Role::System, system_prompt(request.agent, &instructions, &request.memories))];
        messages.extend(request.messages);
        let mut usage = Usage::default();
        let mut failures = 0;
        for _step in 0..settings.max_steps {
            let mut on_text = |text: &str| emit(AgentEvent::Text(text.into()));
            let call = self.llm.complete(key.as_deref(), &messages, &tools, &mut on_text);
            let reply = match tokio::time::timeout_at(deadline.into(), call).await {
                Ok(reply) => reply?,
                Err(_) => return stop_at_limit(emit, usage, &out_of_time(&settings)),
            };
            usage.add(reply.usage);
            if reply.tool_calls.is_empty() {
                emit(AgentEvent::Finished { reason: FinishReason::Stop, usage });
                return Ok(());
            }
            if let Some(answer) = direct_response(&reply.tool_calls) {
                emit(AgentEvent::Text(answer));
                emit(AgentEvent::Finished { reason: FinishReason::Stop, usage });
                return Ok(());
            }
            messages.push(Message {
                role: Role::Assistant,
                content: reply.text,
                tool_calls: reply.tool_calls.clone(),
                tool_call_id: None,
            });
            let mut failed = None;
            for call in reply.tool_calls {
                emit(AgentEvent::ToolStarted {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                });
                let started = Instant::now();
                let outcome = tokio::time::timeout_at(
                    deadline.into(),
                    self.agent_tool_call(&request.caller, request.client.as_deref(), &call),
                )
                .await;
                let Ok((ok, result)) = outcome else {
                    emit(AgentEvent::ToolFinished {
                        id: call.id,
                        name: call.name,
                        ok: false,
                        result: "stopped: the turn ran out of time".into(),
                        took: started.elapsed(),
                    });
                    return stop_at_limit(emit, usage, &out_of_time(&settings));
                };
                emit(AgentEvent::ToolFinished {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    ok,
                    result: result.clone(),
                    took: started.elapsed(),
                });
                if ok && request.agent == Agent::Passthrough && self.is_passthrough(&call.name) {
                    emit(AgentEvent::Text(result));
                    emit(AgentEvent::Finished { reason: FinishReason::Stop, usage });
                    return Ok(());
                }
                if !ok {
                    failed = Some(format!("{}: {result}", call.name));
                }
                messages.push(Message {
                    role: Role::Tool,
                    content: result,
                    tool_calls: Vec::new(),
                    tool_call_id: Some(call.id),
                });
            }
            match failed {
                Some(failure) if failures == MAX_CORRECTIONS => {
                    let message = format!(
                        "I could not finish this: a tool kept failing after {MAX_CORRECTIONS} corrections. The last error was {failure}"
                    );
                    emit(AgentEvent::Text(message));
                    emit(AgentEvent::Finished { reason: FinishReason::Stop, usage });
                    return Ok(());
                }
                Some(_) => failures += 1,
                None => failures = 0,
            }
            if usage.total() >= settings.max_tokens {
                return stop_at_limit(emit, usage, &format!("agent.max_tokens ({})", settings.max_tokens));
            }
        }
        stop_at_limit(emit, usage, &format!("agent.max_steps ({})", settings.max_steps))
    }

    /// The tools agents may call, as the model is shown them, and what each extension tells
    /// the model about its tools (its `SYSTEM_PROMPT`).
    fn agent_tools(&self) -> (Vec<ToolSpec>, Vec<(String, String)>) {
        let catalog = self.tools.catalog();
        let tools = catalog
            .tools
            .values()
            .filter(|tool| Surface::Agent.offers(tool))
            .map(|tool| ToolSpec {
                name: tool.definition.name.to_string(),
                description: tool.definition.description.as_deref().unwrap_or_default().to_string(),
                parameters: Value::Object(tool.definition.input_schema.as_ref().clone()),
            })
            .collect();
        (tools, self.tools.instructions())
    }

    fn is_passthrough(&self, name: &str) -> bool {
        self.tools.catalog().tools.get(name).is_some_and(|tool| tool.flags.passthrough)
    }

    /// (succeeded, the result's text) of one call the model asked for.
    async fn agent_tool_call(&self, caller: &Caller, client: Option<&str>, call: &ToolCall) -> (bool, String) {
        let arguments = match serde_json::from_str::<Value>(if call.arguments.trim().is_empty() {
            "{}"
        } else {
            &call.arguments
        }) {
            Ok(Value::Object(arguments)) => arguments,
            _ => return (false, format!("the arguments are not a JSON object: {}", call.arguments)),
        };
        match self.call_tool(Surface::Agent, caller, client, &call.name, Some(arguments), Default::default()).await {
            Ok(result) => {
                let text: Vec<&str> = result
                    .content
                    .iter()
                    .filter_map(|content| content.as_text())
                    .map(|text| text.text.as_str())
                    .collect();
                (result.is_error != Some(true), text.join("\n"))
            }
            Err(error) => (false, error.to_string()),
        }
    }
}

fn out_of_time(settings: &crate::settings::AgentSettings) -> String {
    format!("agent.max_duration_secs ({}s)", settings.max_duration.as_secs())
}

/// Ends a turn that hit a limit with a message saying which.
fn stop_at_limit(emit: &mut (dyn FnMut(AgentEvent) + Send), usage: Usage, limit: &str) -> Result<(), AgentError> {
    emit(AgentEvent::Text(format!("\n\nStopped before an answer: this request reached {limit}.")));
    emit(AgentEvent::Finished { reason: FinishReason::Length, usage });
    Ok(())
}

fn system_prompt(agent: Agent, instructions: &[(String, String)], memories: &[String]) -> String {
    let mut prompt =
        String::from("You are the assistant of a personal Luna hub. Use the tools when they help; answer plainly.");
    if agent == Agent::Passthrough {
        prompt.push_str(&format!(" When no tool fits, answer with the {DIRECT_RESPONSE} tool."));
    }
    for (extension, text) in instructions {
        prompt.push_str(&format!("\n\nTools of {extension}: {text}"));
    }
    if !memories.is_empty() {
        prompt.push_str("\n\nWhat you know about the user:");
        for memory in memories {
            prompt.push_str(&format!("\n- {memory}"));
        }
    }
    prompt
}

fn direct_response_tool() -> ToolSpec {
    ToolSpec {
        name: DIRECT_RESPONSE.into(),
        description: "Answer the user directly, when no other tool is needed.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"answer": {"type": "string", "description": "The whole answer."}},
            "required": ["answer"],
            "additionalProperties": false,
        }),
    }
}

/// The answer of a `DIRECT_RESPONSE` call, if the model made one.
fn direct_response(calls: &[ToolCall]) -> Option<String> {
    let call = calls.iter().find(|call| call.name == DIRECT_RESPONSE)?;
    let arguments: Value = serde_json::from_str(&call.arguments).ok()?;
    arguments.get("answer").and_then(Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extensions_key_names_it_and_only_the_agent_api_key_makes_one() {
        let key = extension_key("sk-luna-secret", "my-notes");
        assert!(key.starts_with("sk-luna-ext-my-notes-"), "{key}");
        assert_eq!(extension_of_key("sk-luna-secret", &key), Some("my-notes"));
        assert_eq!(extension_of_key("sk-luna-other", &key), None, "a new AGENT_API_KEY revokes it");
        let forged = key.replace("my-notes", "hello");
        assert_eq!(extension_of_key("sk-luna-secret", &forged), None, "the proof is the extension's own");
        assert_eq!(extension_of_key("sk-luna-secret", "sk-luna-ext--"), None);
        assert_eq!(extension_of_key("sk-luna-secret", "sk-luna-secret"), None);
    }
}
