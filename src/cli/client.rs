//! A small HTTP/1 client for the core API's Unix socket.

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

/// Largest API answer the CLI reads; log tails and listings stay far below it.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

pub struct ApiClient {
    socket: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("luna is not running here (no API at {socket}): {source}")]
    NotRunning { socket: String, source: std::io::Error },
    #[error("no permission to reach Luna's API at {socket}: run this as Luna's user or as root (sudo luna …)")]
    NoAccess { socket: String },
    #[error("the API answered {status}: {detail}")]
    Status { status: u16, detail: String },
    #[error("talking to the API: {0}")]
    Transport(String),
}

impl ClientError {
    /// The `error` event that ends a streamed operation (`{"status", "detail"}`).
    pub fn from_error_event(event: &serde_json::Value) -> Self {
        ClientError::Status {
            status: event["status"].as_u64().unwrap_or(500) as u16,
            detail: event["detail"].as_str().unwrap_or("the operation failed").to_string(),
        }
    }
}

impl ApiClient {
    pub fn new(socket: PathBuf) -> Self {
        Self { socket }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request("GET", path, Bytes::new()).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request("POST", path, Bytes::new()).await
    }

    pub async fn post_json<T: DeserializeOwned>(&self, path: &str, body: &serde_json::Value) -> Result<T, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|error| ClientError::Transport(error.to_string()))?;
        self.request("POST", path, Bytes::from(bytes)).await
    }

    /// Any method with a raw body (JSON, a zip, a `.env` file).
    pub async fn call<T: DeserializeOwned>(&self, method: &str, path: &str, body: Bytes) -> Result<T, ClientError> {
        self.request(method, path, body).await
    }

    /// Reads a server-sent-event stream, calling `on_line` with each event's data, until
    /// the server closes it.
    pub async fn follow(&self, path: &str, mut on_line: impl FnMut(&str)) -> Result<(), ClientError> {
        self.events("GET", path, Bytes::new(), |_, data| on_line(data)).await
    }

    /// Sends a request that answers with server-sent events; calls `on_event(name, data)` for
    /// each (`message` when the event has no name) until the server closes the stream.
    pub async fn events(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
        mut on_event: impl FnMut(&str, &str),
    ) -> Result<(), ClientError> {
        let response = self.send_accepting(method, path, body, "text/event-stream").await?;
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            let bytes = body.collect().await.map_err(|error| ClientError::Transport(error.to_string()))?.to_bytes();
            return Err(status_error(status.as_u16(), &bytes));
        }
        let mut pending = String::new();
        let mut event = String::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| ClientError::Transport(error.to_string()))?;
            let Some(data) = frame.data_ref() else { continue };
            pending.push_str(&String::from_utf8_lossy(data));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                let line = line.trim_end_matches(['\r', '\n']);
                if line.is_empty() {
                    event.clear();
                } else if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(data) = line.strip_prefix("data:") {
                    let name = if event.is_empty() { "message" } else { event.as_str() };
                    on_event(name, data.strip_prefix(' ').unwrap_or(data));
                }
            }
        }
        Ok(())
    }

    async fn request<T: DeserializeOwned>(&self, method: &str, path: &str, body: Bytes) -> Result<T, ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let limited = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES);
        let bytes = limited.collect().await.map_err(|error| ClientError::Transport(error.to_string()))?.to_bytes();
        if !status.is_success() {
            return Err(status_error(status.as_u16(), &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Transport(format!("unexpected answer: {error}")))
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        self.send_accepting(method, path, body, "application/json").await
    }

    async fn send_accepting(
        &self,
        method: &str,
        path: &str,
        body: Bytes,
        accept: &str,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let stream = tokio::net::UnixStream::connect(&self.socket).await.map_err(|source| {
            let socket = self.socket.display().to_string();
            match source.kind() {
                std::io::ErrorKind::PermissionDenied => ClientError::NoAccess { socket },
                _ => ClientError::NotRunning { socket, source },
            }
        })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| ClientError::Transport(error.to_string()))?;
        tokio::spawn(connection);

        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "luna")
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(Full::new(body))
            .map_err(|error| ClientError::Transport(error.to_string()))?;
        sender.send_request(request).await.map_err(|error| ClientError::Transport(error.to_string()))
    }
}

fn status_error(status: u16, body: &[u8]) -> ClientError {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("detail").and_then(|d| d.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    ClientError::Status { status, detail }
}
