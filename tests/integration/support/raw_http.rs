//! A deliberately dumb HTTP/1.1 client: sends the request line and headers exactly as
//! given, so tests can send paths and header spellings that real clients would clean up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers(name).into_iter().next()
    }

    /// Every value of header `name` (e.g. several `Set-Cookie`).
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
            })
            .collect()
    }
}

/// Sends one request with `Connection: close` and reads the whole response.
pub fn request(address: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> RawResponse {
    request_with_body(address, method, target, headers, "")
}

/// [`request`] with a body (and its `Content-Length`).
pub fn request_with_body(
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let stream = TcpStream::connect(address).expect("connect to gateway");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    exchange(stream, &address.to_string(), method, target, headers, body)
}

/// [`request_with_body`] from another loopback address (`127.0.0.2`, say): a second client
/// as far as per-address limits go.
pub fn request_from(
    source: std::net::IpAddr,
    address: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let stream = super::runtime().block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        socket.connect(address).await.expect("connect to gateway").into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    exchange(stream, &address.to_string(), method, target, headers, body)
}

/// The same over a Unix socket (the core API's, as the CLI uses it).
pub fn request_unix(socket: &std::path::Path, method: &str, target: &str, headers: &[(&str, &str)]) -> RawResponse {
    request_unix_with_body(socket, method, target, headers, "")
}

/// [`request_unix`] with a body (and its `Content-Length`).
pub fn request_unix_with_body(
    socket: &std::path::Path,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let stream = std::os::unix::net::UnixStream::connect(socket).expect("connect to the API socket");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    exchange(stream, "luna", method, target, headers, body)
}

fn exchange(
    mut stream: impl Read + Write,
    host: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let mut text = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    if !body.is_empty() {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        text.push_str(&format!("Host: {host}\r\n"));
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).unwrap();

    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read response");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    RawResponse { status, head: head.to_string(), body: decode_chunked_if_needed(head, body) }
}

pub fn get(address: SocketAddr, target: &str) -> RawResponse {
    request(address, "GET", target, &[])
}

fn decode_chunked_if_needed(head: &str, body: &str) -> String {
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size.min(after.len())]);
        rest = after.get(size + 2..).unwrap_or("");
    }
    out
}
