//! The HTTP health probe: `GET http://127.0.0.1:<port><path>`, healthy on 2xx or 3xx.

use std::time::Duration;

use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;

pub async fn probe(port: u16, path: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, probe_once(port, path)).await {
        Ok(result) => result,
        Err(_) => Err(format!("GET {path} timed out after {timeout:?}")),
    }
}

async fn probe_once(port: u16, path: &str) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|error| format!("cannot connect to 127.0.0.1:{port}: {error}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("HTTP handshake failed: {error}"))?;
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("user-agent", "luna-health-probe")
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|error| error.to_string())?;
    let response = sender.send_request(request).await.map_err(|error| format!("GET {path} failed: {error}"))?;
    let status = response.status();
    if status.is_success() || status.is_redirection() { Ok(()) } else { Err(format!("GET {path} answered {status}")) }
}
