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
    #[error("the API answered {status}: {detail}")]
    Status { status: u16, detail: String },
    #[error("talking to the API: {0}")]
    Transport(String),
}

impl ApiClient {
    pub fn new(socket: PathBuf) -> Self {
        Self { socket }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request("GET", path, Bytes::new()).await
    }

    async fn request<T: DeserializeOwned>(&self, method: &str, path: &str, body: Bytes) -> Result<T, ClientError> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|source| ClientError::NotRunning { socket: self.socket.display().to_string(), source })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| ClientError::Transport(error.to_string()))?;
        tokio::spawn(connection);

        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "luna")
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|error| ClientError::Transport(error.to_string()))?;
        let response = sender.send_request(request).await.map_err(|error| ClientError::Transport(error.to_string()))?;
        let status = response.status();
        let limited = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES);
        let bytes = limited.collect().await.map_err(|error| ClientError::Transport(error.to_string()))?.to_bytes();
        if !status.is_success() {
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|json| json.get("detail").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(ClientError::Status { status: status.as_u16(), detail });
        }
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Transport(format!("unexpected answer: {error}")))
    }
}
