//! A stand-in for an OpenAI-compatible LLM API (`/v1/chat/completions`, `/v1/models`) on
//! loopback, answering from a script of replies. It speaks the real wire format, quirks
//! included, because those are what clients get wrong: streamed tool calls arrive as an
//! id-and-name delta and then argument fragments cut anywhere (mid-key too) that must be
//! concatenated per `index`; the first tool-call delta carries `content: null`, not `""`;
//! the usage chunk (with `choices: []`) comes only when asked for with
//! `stream_options.include_usage`; chunks carry an `obfuscation` padding field; errors are
//! `{"error": {message, type, param, code}}`, and a stream can die after partial data with
//! an error event and no `[DONE]`.
//! It checks what the real API checks before any model runs: a bearer key (any key), a JSON
//! body with `model` and non-empty `messages`, `stream_options` only with `stream`.

// A check that fails answers with the response itself; boxing it would only add noise here.
#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use serde_json::{Value, json};

/// One scripted answer to one `POST /v1/chat/completions`.
pub enum Reply {
    /// An assistant answer. Non-streaming: one chat.completion. Streaming: a role chunk, the
    /// text as one content delta per word (spaces kept), then finish_reason "stop".
    Text(String),
    /// Tool calls: (id, function name, arguments as a JSON string). Non-streaming:
    /// `message.tool_calls` with `content: null`, finish_reason "tool_calls". Streaming as
    /// OpenAI splits them: per call a delta with index, id, type and name (`arguments: ""`),
    /// then deltas with only the index and an arguments fragment (3+ of them, the first cut
    /// mid-way through the first key), then an empty delta with finish_reason "tool_calls".
    ToolCalls(Vec<(String, String, String)>),
    /// HTTP 429 with `retry-after`. The openai SDKs retry 429 (twice by default, honouring
    /// `retry-after`): script several, or set `max_retries=0`, to see it surface.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500 with OpenAI's server_error body (also retried by the SDKs).
    ServerError,
    /// Streaming: the role chunk and one content delta with this text, an error event, then
    /// the connection is cut (no final chunk, no `[DONE]`, no chunked-encoding end).
    /// Non-streaming: the 500 of [`Reply::ServerError`], what such a client sees.
    FailMidStream(String),
    /// Waits this long before answering (headers included), then answers like `Text`. The
    /// wait is dropped with the connection when the client goes away, and holds up nothing else.
    Slow(Duration, String),
}

#[derive(Default)]
struct Inner {
    replies: VecDeque<Reply>,
    requests: Vec<Value>,
    authorizations: Vec<Option<String>>,
}

#[derive(Clone)]
pub struct StandInLlm {
    pub address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl StandInLlm {
    pub fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/models", get(models))
            .fallback(invalid_url)
            .method_not_allowed_fallback(invalid_url)
            .with_state(inner.clone());
        let listener = super::runtime().block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        super::runtime().spawn(async move { axum::serve(listener, app).await });
        Self { address, inner }
    }

    /// `http://127.0.0.1:<port>/v1`: what OPENAI_BASE_URL is set to.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// Appends replies; each POST /v1/chat/completions consumes the next one, in order.
    /// Requests the API turns away first (401, 400) consume none, as no model sees them.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().unwrap().replies.extend(replies);
    }

    /// Every request body received at /v1/chat/completions, in order, parsed (a body that is
    /// not JSON is kept as a JSON string of its text).
    pub fn requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The Authorization header of each of those requests.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.inner.lock().unwrap().authorizations.clone()
    }

    /// How many scripted replies are still unused.
    pub fn remaining(&self) -> usize {
        self.inner.lock().unwrap().replies.len()
    }
}

fn random(length: usize) -> String {
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(length).map(char::from).collect()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// OpenAI's error body, and the request id every answer carries.
fn error(status: StatusCode, message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Response {
    let body = json!({ "error": { "message": message, "type": kind, "param": param, "code": code } });
    (status, [("x-request-id", format!("req_{}", random(32)))], Json(body)).into_response()
}

fn invalid_request(message: &str, param: Option<&str>, code: Option<&str>) -> Response {
    error(StatusCode::BAD_REQUEST, message, "invalid_request_error", param, code)
}

fn server_error() -> Response {
    let message = "The server had an error while processing your request.";
    error(StatusCode::INTERNAL_SERVER_ERROR, message, "server_error", None, None)
}

fn server_error_body() -> Value {
    json!({ "error": {
        "message": "The server had an error while processing your request.",
        "type": "server_error", "param": null, "code": null,
    } })
}

/// Any `Bearer <key>` passes, as with a valid key; anything else is OpenAI's 401.
fn check_key(headers: &HeaderMap) -> Result<(), Response> {
    let key = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).and_then(|value| {
        let (scheme, key) = value.split_once(' ')?;
        (scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty()).then_some(())
    });
    key.ok_or_else(|| {
        let message = "You didn't provide an API key. You need to provide your API key in an Authorization \
                       header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        error(StatusCode::UNAUTHORIZED, message, "invalid_request_error", None, None)
    })
}

/// The checks the real API makes before a model sees the request, with its messages.
fn validate(request: Option<&Value>) -> Result<(), Response> {
    let Some(request) = request.filter(|request| request.is_object()) else {
        return Err(invalid_request("We could not parse the JSON body of your request.", None, None));
    };
    match request.get("model") {
        None | Some(Value::Null) => {
            return Err(invalid_request(
                "Missing required parameter: 'model'.",
                Some("model"),
                Some("missing_required_parameter"),
            ));
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(invalid_request("Invalid type for 'model': expected a string.", Some("model"), None)),
    }
    match request.get("messages") {
        None | Some(Value::Null) => Err(invalid_request(
            "Missing required parameter: 'messages'.",
            Some("messages"),
            Some("missing_required_parameter"),
        )),
        Some(Value::Array(messages)) if messages.is_empty() => Err(invalid_request(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages"),
            Some("empty_array"),
        )),
        Some(Value::Array(_)) => {
            let streaming = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
            if request.get("stream_options").is_some_and(|options| !options.is_null()) && !streaming {
                return Err(invalid_request(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    Some("stream_options"),
                    None,
                ));
            }
            Ok(())
        }
        Some(_) => Err(invalid_request("Invalid type for 'messages': expected an array.", Some("messages"), None)),
    }
}

async fn chat_completions(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let reply = {
        let mut inner = inner.lock().unwrap();
        let recorded = parsed.clone().unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned()));
        inner.requests.push(recorded);
        let authorization =
            headers.get(header::AUTHORIZATION).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        inner.authorizations.push(authorization);
        if let Err(response) = check_key(&headers).and_then(|()| validate(parsed.as_ref())) {
            return response;
        }
        inner.replies.pop_front()
    };
    let request = parsed.unwrap();
    let Some(reply) = reply else {
        // Says so in the test's failure, instead of a plausible-looking model error.
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "stand-in LLM: no scripted reply left",
            "server_error",
            None,
            None,
        );
    };
    let answer = Answer::for_request(&request);
    match reply {
        Reply::Text(text) => answer.text(&text),
        Reply::ToolCalls(calls) => answer.tool_calls(&calls),
        Reply::RateLimited { retry_after_secs } => {
            let message = format!(
                "Rate limit reached for {} in organization org-standin on requests per min (RPM): Limit 3, \
                 Used 3, Requested 1. Please try again in {retry_after_secs}s. Visit \
                 https://platform.openai.com/account/rate-limits to learn more.",
                answer.model
            );
            let mut response =
                error(StatusCode::TOO_MANY_REQUESTS, &message, "requests", None, Some("rate_limit_exceeded"));
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, retry_after_secs.into());
            headers.insert("x-ratelimit-limit-requests", 3.into());
            headers.insert("x-ratelimit-remaining-requests", 0.into());
            headers.insert("x-ratelimit-reset-requests", format!("{retry_after_secs}s").parse().unwrap());
            response
        }
        Reply::ServerError => server_error(),
        Reply::FailMidStream(text) if answer.streaming => answer.fail_mid_stream(&text),
        Reply::FailMidStream(_) => server_error(),
        Reply::Slow(delay, text) => {
            // hyper drops this future, and the sleep with it, when the client disconnects.
            tokio::time::sleep(delay).await;
            answer.text(&text)
        }
    }
}

/// What every completion and chunk of one answer shares.
struct Answer {
    id: String,
    created: u64,
    model: String,
    streaming: bool,
    include_usage: bool,
    obfuscation: bool,
    prompt_tokens: u64,
}

const FINGERPRINT: &str = "fp_51e1070cf2";

/// Plausible token counts: about four characters a token.
fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

impl Answer {
    fn for_request(request: &Value) -> Self {
        let option =
            |name: &str| request.get("stream_options").and_then(|options| options.get(name)).and_then(Value::as_bool);
        Self {
            id: format!("chatcmpl-{}", random(29)),
            created: now(),
            model: request["model"].as_str().unwrap_or_default().to_string(),
            streaming: request.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: option("include_usage").unwrap_or(false),
            obfuscation: option("include_obfuscation").unwrap_or(true),
            prompt_tokens: tokens(&request["messages"].to_string()),
        }
    }

    fn usage(&self, completion_tokens: u64) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
            "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
            "completion_tokens_details": {
                "reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            },
        })
    }

    fn completion(&self, message: Value, finish_reason: &str, completion_tokens: u64) -> Response {
        let body = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason }],
            "usage": self.usage(completion_tokens),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        });
        ([("x-request-id", format!("req_{}", random(32)))], Json(body)).into_response()
    }

    /// One `data:` event: a chunk with this delta; `usage: null` rides along only when the
    /// usage chunk was asked for, as on the real API.
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Event {
        let choices = json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason }]);
        self.event(choices, Value::Null)
    }

    fn event(&self, choices: Value, usage: Value) -> Event {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        });
        if self.include_usage {
            chunk["usage"] = usage;
        }
        if self.obfuscation {
            // Random padding OpenAI adds so chunk sizes do not give the tokens away.
            let length = rand::rng().random_range(1..16);
            chunk["obfuscation"] = Value::String(random(length));
        }
        Ok(Bytes::from(format!("data: {chunk}\n\n")))
    }

    /// The usage chunk (if asked for) and `[DONE]`.
    fn end(&self, completion_tokens: u64) -> Vec<Event> {
        let mut events = Vec::new();
        if self.include_usage {
            events.push(self.event(json!([]), self.usage(completion_tokens)));
        }
        events.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
        events
    }

    fn text(&self, text: &str) -> Response {
        if !self.streaming {
            let message = json!({ "role": "assistant", "content": text, "refusal": null, "annotations": [] });
            return self.completion(message, "stop", tokens(text));
        }
        let mut events = vec![self.chunk(json!({ "role": "assistant", "content": "", "refusal": null }), None)];
        events.extend(text.split_inclusive(' ').map(|word| self.chunk(json!({ "content": word }), None)));
        events.push(self.chunk(json!({}), Some("stop")));
        events.extend(self.end(tokens(text)));
        stream(events)
    }

    fn tool_calls(&self, calls: &[(String, String, String)]) -> Response {
        let completion_tokens = calls.iter().map(|(_, name, arguments)| tokens(name) + tokens(arguments)).sum();
        if !self.streaming {
            let tool_calls: Vec<Value> = calls
                .iter()
                .map(|(id, name, arguments)| {
                    json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } })
                })
                .collect();
            let message = json!({
                "role": "assistant", "content": null, "tool_calls": tool_calls, "refusal": null, "annotations": [],
            });
            return self.completion(message, "tool_calls", completion_tokens);
        }
        let mut events = Vec::new();
        for (index, (id, name, arguments)) in calls.iter().enumerate() {
            let call =
                json!({ "index": index, "id": id, "type": "function", "function": { "name": name, "arguments": "" } });
            // The role comes with the first call, and content is null there, not "".
            let delta = if index == 0 {
                json!({ "role": "assistant", "content": null, "tool_calls": [call], "refusal": null })
            } else {
                json!({ "tool_calls": [call] })
            };
            events.push(self.chunk(delta, None));
            for piece in argument_pieces(arguments) {
                let fragment = json!({ "index": index, "function": { "arguments": piece } });
                events.push(self.chunk(json!({ "tool_calls": [fragment] }), None));
            }
        }
        if calls.is_empty() {
            events.push(self.chunk(json!({ "role": "assistant", "content": null, "refusal": null }), None));
        }
        events.push(self.chunk(json!({}), Some("tool_calls")));
        events.extend(self.end(completion_tokens));
        stream(events)
    }

    fn fail_mid_stream(&self, text: &str) -> Response {
        let events = vec![
            self.chunk(json!({ "role": "assistant", "content": "", "refusal": null }), None),
            self.chunk(json!({ "content": text }), None),
            Ok(Bytes::from(format!("data: {}\n\n", server_error_body()))),
            // An error from the body makes hyper drop the connection without the last chunk.
            Err(std::io::Error::other("stand-in LLM: failing mid-stream")),
        ];
        stream(events)
    }
}

type Event = Result<Bytes, std::io::Error>;

/// The argument string cut like a token stream cuts it: first mid-way through the first
/// key (`{"ci` | `ty":` ...), then pieces of up to four characters, so 3+ pieces for
/// anything longer than a few characters.
fn argument_pieces(arguments: &str) -> Vec<String> {
    let chars: Vec<char> = arguments.chars().collect();
    let key_start = chars.iter().position(|c| *c == '"').map_or(0, |quote| quote + 1);
    let key_length = chars[key_start..].iter().take_while(|c| **c != '"').count();
    let first_cut = (key_start + key_length / 2).clamp(1.min(chars.len()), chars.len());
    let mut pieces: Vec<String> = Vec::new();
    if first_cut > 0 {
        pieces.push(chars[..first_cut].iter().collect());
    }
    let rest = &chars[first_cut..];
    let size = (rest.len() / 2).clamp(1, 4);
    pieces.extend(rest.chunks(size).map(|piece| piece.iter().collect::<String>()));
    pieces
}

/// An SSE response whose events each go out as their own write: the stream yields to the
/// runtime between events, so hyper flushes each before the next is ready.
fn stream(events: Vec<Event>) -> Response {
    let events = futures_util::stream::unfold((events.into_iter(), true), |(mut events, first)| async move {
        if !first {
            tokio::task::yield_now().await;
        }
        let event = events.next()?;
        Some((event, (events, false)))
    });
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream; charset=utf-8".to_string()),
        (header::CACHE_CONTROL, "no-cache".to_string()),
        (header::HeaderName::from_static("x-request-id"), format!("req_{}", random(32))),
    ];
    (headers, Body::from_stream(events)).into_response()
}

async fn models(headers: HeaderMap) -> Response {
    if let Err(response) = check_key(&headers) {
        return response;
    }
    let model = json!({ "id": "gpt-4.1", "object": "model", "created": 1744316542, "owned_by": "openai" });
    Json(json!({ "object": "list", "data": [model] })).into_response()
}

/// OpenAI answers unknown paths, and known paths with the wrong method, this way.
async fn invalid_url(method: Method, uri: Uri) -> Response {
    let message = format!("Invalid URL ({method} {})", uri.path());
    error(StatusCode::NOT_FOUND, &message, "invalid_request_error", None, None)
}
