//! Fixtures: a `luna` process in a temp home, a raw HTTP/1.1 client for requests that
//! ordinary clients would normalise, and an echo upstream.

pub mod acme;
pub mod browser;
pub mod docker;
pub mod echo;
pub mod extension;
pub mod gateway;
pub mod github;
pub mod github_repos;
pub mod llm;
pub mod luna;
pub mod mcp;
pub mod postgres;
pub mod prometheus;
pub mod raw_http;
pub mod registry;
pub mod tls;

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// A port nobody listens on right now: bind to port 0, read it, let it go.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it is true or `limit` has passed; readiness, not a fixed sleep.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True once something accepts TCP connections on `address`.
pub fn is_listening(address: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

/// A runtime in the background for upstream servers, so tests can stay synchronous and
/// block on clients without starving the servers they talk to.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}
