//! `/api/agent/v1`: the Agent API, OpenAI-compatible (`GET /models`, `POST /chat/completions`,
//! streaming or not), for any OpenAI client library pointed at `https://<site>/api/agent/v1`.
//!
//! Who may call ([`identify`]): a client with `AGENT_API_KEY` as its bearer (the owner; a wrong
//! key is 401 in every mode), a logged-in user through the gateway (the Hub's Chat page: the
//! gateway vouches with `X-Luna-User`, the browser never holds the key), the owner on the
//! socket, and anyone local in open local mode. The turn itself is [`Luna::run_agent`]; this
//! edge only translates its events into OpenAI's answer or chunks.
//!
//! A streamed turn runs in a task the response body owns: a client that disconnects drops
//! the body, which aborts the task, which drops the model's stream and cancels a tool call
//! in flight.

mod wire;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use utoipa_axum::routes;

use super::openapi::Documented;
use crate::agent::{AgentError, AgentEvent, AgentRequest, KeyHolder, MAX_MEMORIES, MAX_MEMORY_CHARS};
use crate::app::{Caller, Luna, Operation};
use wire::{Answer, ChatRequest, Model, ModelList, error_body};

/// A request body, at most (a long conversation).
pub const MAX_BODY_BYTES: usize = 4 << 20;

pub fn routes() -> Documented {
    Documented::new().nest(
        "/api/agent/v1",
        Documented::new()
            .routes(Operation::UseTools, routes!(list_models))
            .routes(Operation::UseTools, routes!(chat_completions)),
    )
}

/// Middleware over the Agent API: the [`Caller`], or OpenAI's 401.
pub async fn identify(State(luna): State<Luna>, mut request: Request, next: Next) -> Response {
    match caller_of(&luna, request.headers()) {
        Ok(AgentCaller { caller, extension }) => {
            request.extensions_mut().insert(caller);
            request.extensions_mut().insert(CallingExtension(extension));
            request.extensions_mut().insert(luna.audit.clone());
            next.run(request).await
        }
        Err(message) => {
            openai_error(StatusCode::UNAUTHORIZED, &message, "invalid_request_error", Some("invalid_api_key"))
        }
    }
}

/// Who calls, and the extension on whose behalf (for the audit log).
struct AgentCaller {
    caller: Caller,
    extension: Option<String>,
}

fn caller_of(luna: &Luna, headers: &HeaderMap) -> Result<AgentCaller, String> {
    if headers.contains_key(header::AUTHORIZATION) {
        // Any credential at all is checked, in every mode: a wrong one is never the owner.
        let key = crate::mcp::access::bearer(headers).unwrap_or_default();
        let extension = match luna.agent_key_holder(key) {
            Some(KeyHolder::Owner) => None,
            Some(KeyHolder::Extension(extension)) => Some(format!("extension:{extension}")),
            None => return Err("Incorrect API key provided: use AGENT_API_KEY (luna token --agent)".into()),
        };
        return Ok(AgentCaller { caller: Caller::Owner, extension });
    }
    // Without a key, as for the control API: the gateway's user, or the owner.
    let caller = super::caller::caller_of(luna, headers)
        .ok_or("send Authorization: Bearer <AGENT_API_KEY> (luna token --agent), or log in")?;
    Ok(AgentCaller { caller, extension: None })
}

/// The extension whose key a request carries.
#[derive(Clone)]
struct CallingExtension(Option<String>);

/// The agents, as OpenAI models.
#[utoipa::path(get, path = "/models", operation_id = "list_agents", tag = "agent",
    responses((status = 200, body = ModelList)))]
async fn list_models() -> Json<ModelList> {
    let data = crate::agent::Agent::ALL
        .into_iter()
        .map(|agent| Model { id: agent.id(), object: "model", created: 0, owned_by: "luna" })
        .collect();
    Json(ModelList { object: "list", data })
}

/// A turn of an agent, OpenAI's Chat Completions: the answer, or with `stream: true` its
/// `chat.completion.chunk`s as server-sent events. `X-Luna-Memory` (a JSON array of strings)
/// tells the agent about the user; `X-Luna-Events: tools` adds each tool call to the stream
/// as a chunk with no choice and a `luna` field.
#[utoipa::path(post, path = "/chat/completions", operation_id = "chat_completions", tag = "agent",
    request_body = ChatRequest,
    responses((status = 200, description = "`chat.completion`, or `text/event-stream` of chunks", body = Object),
        (status = 400, description = "OpenAI's error body", body = Object),
        (status = 401, description = "OpenAI's error body", body = Object),
        (status = 404, description = "No such agent", body = Object)))]
async fn chat_completions(
    State(luna): State<Luna>,
    axum::Extension(caller): axum::Extension<Caller>,
    axum::Extension(CallingExtension(extension)): axum::Extension<CallingExtension>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: ChatRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return invalid(&format!("the body is not a chat completion request: {error}")),
    };
    let Some(agent) = crate::agent::Agent::from_id(&request.model) else {
        let message = format!("The model `{}` does not exist: use simple_agent or passthrough_agent", request.model);
        return openai_error(StatusCode::NOT_FOUND, &message, "invalid_request_error", Some("model_not_found"));
    };
    let memories = match memories(&headers) {
        Ok(memories) => memories,
        Err(message) => return invalid(&message),
    };
    let (stream, include_usage) =
        (request.stream, request.stream_options.as_ref().is_some_and(|options| options.include_usage));
    let answer = Answer::new(&request.model);
    let messages = match request.conversation() {
        Ok(messages) => messages,
        Err(message) => return invalid(&message),
    };
    let turn = AgentRequest { agent, messages, memories, caller, client: extension };
    let tool_events = headers
        .get("x-luna-events")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|part| part.trim() == "tools"));
    let events = start(luna, turn);
    if stream {
        return streamed(answer, events, include_usage, tool_events);
    }
    whole(answer, events).await
}

/// `X-Luna-Memory`: a JSON array of strings, within its limits.
fn memories(headers: &HeaderMap) -> Result<Vec<String>, String> {
    let Some(value) = headers.get("x-luna-memory") else { return Ok(Vec::new()) };
    let memories: Vec<String> = value
        .to_str()
        .ok()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or("X-Luna-Memory: must be a JSON array of strings")?;
    if memories.len() > MAX_MEMORIES || memories.iter().any(|memory| memory.chars().count() > MAX_MEMORY_CHARS) {
        return Err(format!("X-Luna-Memory: at most {MAX_MEMORIES} memories of {MAX_MEMORY_CHARS} characters each"));
    }
    Ok(memories)
}

/// What a turn reports: its events, then `Err` if it could not run.
type Outcome = Result<AgentEvent, AgentError>;

/// Runs the turn in a task; the returned stream owns it (dropping the stream aborts it).
fn start(luna: Luna, turn: AgentRequest) -> impl futures_util::Stream<Item = Outcome> + Send + 'static {
    // Unbounded: a turn's events are bounded by its limits (steps, reply size), and a
    // slow reader must not lose a piece of the answer.
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let task = tokio::spawn(async move {
        let events = sender.clone();
        let mut emit = move |event: AgentEvent| {
            let _ = events.send(Ok(event));
        };
        if let Err(error) = luna.run_agent(turn, &mut emit).await {
            let _ = sender.send(Err(error));
        }
    });
    let guard = AbortOnDrop(task);
    futures_util::stream::unfold((receiver, guard), |(mut receiver, guard)| async move {
        let item = receiver.recv().await?;
        Some((item, (receiver, guard)))
    })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The non-streaming answer: the turn's text, once it is over.
async fn whole(answer: Answer, events: impl futures_util::Stream<Item = Outcome>) -> Response {
    let mut events = std::pin::pin!(events);
    let mut text = String::new();
    while let Some(event) = events.next().await {
        match event {
            Ok(AgentEvent::Text(piece)) => text.push_str(&piece),
            Ok(AgentEvent::Finished { reason, usage }) => {
                return Json(answer.completion(&text, reason, usage)).into_response();
            }
            Ok(_) => {}
            Err(error) => return agent_error(&error),
        }
    }
    openai_error(StatusCode::INTERNAL_SERVER_ERROR, "the turn ended without an answer", "server_error", None)
}

/// The streamed answer: OpenAI's chunks as server-sent events, `[DONE]` at the end.
fn streamed(
    answer: Answer,
    events: impl futures_util::Stream<Item = Outcome> + Send + 'static,
    include_usage: bool,
    tool_events: bool,
) -> Response {
    let first = answer.chunk(json!({"role": "assistant", "content": ""}), None);
    let chunks = events.flat_map(move |event| {
        let chunks: Vec<Value> = match event {
            Ok(AgentEvent::Text(piece)) => vec![answer.chunk(json!({"content": piece}), None)],
            Ok(AgentEvent::ToolStarted { id, name, arguments }) if tool_events => {
                vec![answer.luna_chunk(json!({"tool": {"id": id, "name": name, "arguments": arguments, "status": "started"}}))]
            }
            Ok(AgentEvent::ToolFinished { id, name, ok, result, took }) if tool_events => {
                let status = if ok { "ok" } else { "error" };
                let duration_ms = took.as_millis() as u64;
                vec![answer.luna_chunk(json!({"tool": {"id": id, "name": name, "status": status, "result": result, "duration_ms": duration_ms}}))]
            }
            Ok(AgentEvent::Finished { reason, usage }) => {
                let mut last = vec![answer.chunk(json!({}), Some(reason))];
                if include_usage {
                    last.push(answer.usage_chunk(usage));
                }
                last
            }
            Ok(_) => Vec::new(),
            Err(error) => vec![agent_error_body(&error)],
        };
        futures_util::stream::iter(chunks)
    });
    let lines = futures_util::stream::once(async move { first })
        .chain(chunks)
        .map(|chunk| format!("data: {chunk}\n\n"))
        .chain(futures_util::stream::once(async { "data: [DONE]\n\n".to_string() }))
        .map(Ok::<_, std::convert::Infallible>);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(lines))
        .expect("a streamed response")
}

fn agent_error(error: &AgentError) -> Response {
    let (status, body) = match error {
        AgentError::Llm(crate::agent::llm::LlmError::NoKey) => {
            (StatusCode::SERVICE_UNAVAILABLE, agent_error_body(error))
        }
        AgentError::Llm(_) => (StatusCode::BAD_GATEWAY, agent_error_body(error)),
    };
    (status, Json(body)).into_response()
}

fn agent_error_body(error: &AgentError) -> Value {
    error_body(&error.to_string(), "server_error", Some("model_unavailable"))
}

fn invalid(message: &str) -> Response {
    openai_error(StatusCode::BAD_REQUEST, message, "invalid_request_error", None)
}

fn openai_error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    (status, Json(error_body(message, kind, code))).into_response()
}
