//! Upstreams on loopback: an HTTP echo that reports what it received, and a WebSocket echo.

use std::net::SocketAddr;

use axum::Json;
use axum::http::{HeaderMap, Uri};
use futures_util::{SinkExt, StreamExt};

/// Starts an HTTP server that answers every request with
/// `{"path": ..., "query": ..., "headers": [[name, value], ...]}`.
pub async fn start_http_echo() -> SocketAddr {
    async fn echo(uri: Uri, headers: HeaderMap) -> Json<serde_json::Value> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap_or("").to_string()))
            .collect();
        Json(serde_json::json!({ "path": uri.path(), "query": uri.query(), "headers": headers }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(echo)).await });
    address
}

/// Starts a WebSocket server that sends every text message back, prefixed with `echo:`.
pub async fn start_websocket_echo() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
                while let Some(Ok(message)) = socket.next().await {
                    if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                        let reply = format!("echo:{}", text.as_str());
                        if socket.send(reply.into()).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    address
}
