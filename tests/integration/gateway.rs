//! The gateway in front of real upstreams.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use luna::gateway::routes::{GatewayEndpoint, Route, Upstream};

use crate::support::echo::{start_http_echo, start_websocket_echo};
use crate::support::gateway::TestGateway;
use crate::support::{free_port, raw_http, runtime};

/// `/` and `/ext/echo/` go to the echo server; `/healthz` is the gateway's own.
fn echo_gateway() -> TestGateway {
    let echo = runtime().block_on(start_http_echo());
    TestGateway::start(vec![
        Route::new("/healthz", "healthz", Upstream::Gateway(GatewayEndpoint::Healthz)),
        Route::new("/", "hub", Upstream::Tcp(echo)),
        Route::new("/ext/echo", "ext:echo", Upstream::Tcp(echo)).stripping_prefix(),
    ])
}

fn echoed(response: &raw_http::RawResponse) -> serde_json::Value {
    assert_eq!(response.status, 200, "{}\n{}", response.head, response.body);
    serde_json::from_str(&response.body).unwrap()
}

fn header_values(echo: &serde_json::Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|pair| pair[1].as_str().unwrap().to_string())
        .collect()
}

/// (The test gateway runs without a login, so headers that say a proxy forwarded the request,
/// `X-Forwarded-For` or `Tailscale-*`, are refused there: `serve.rs` and `auth.rs` test them.)
#[test]
fn spoofed_identity_headers_never_reach_an_upstream() {
    let gateway = echo_gateway();
    let spoofed = [
        ("X-Luna-User", "mallory"),
        ("X_Luna_User", "mallory"),
        ("x-luna-identity", "forged.jwt"),
        ("x-forwarded-user", "mallory"),
        ("X-Forwarded-Email", "mallory@evil.example"),
        ("X_Forwarded_Groups", "admins"),
        ("X-Forwarded-Prefix", "/10.0.0.1"),
        // Headers that other auth proxies set and apps in "auth proxy" mode trust.
        ("Remote-User", "mallory"),
        ("Remote_Email", "mallory@evil.example"),
        ("X-Remote-User", "mallory"),
        ("X-Auth-Request-User", "mallory"),
        ("X-Auth-Request-Email", "mallory@evil.example"),
        ("X-Authentik-Username", "mallory"),
        ("X-Pomerium-Claim-Email", "mallory@evil.example"),
        ("X-WEBAUTH-USER", "mallory"),
        ("Cf-Access-Authenticated-User-Email", "mallory@evil.example"),
        ("X-Goog-Authenticated-User-Email", "mallory@evil.example"),
        ("X-Amzn-Oidc-Identity", "mallory"),
        ("X-MS-CLIENT-PRINCIPAL-NAME", "mallory"),
        ("OIDC_CLAIM_email", "mallory@evil.example"),
        ("X-Vouch-User", "mallory"),
        ("X-Authenticated-Userid", "mallory"),
        ("X-Auth-User", "mallory"),
    ];

    let echo = echoed(&raw_http::request(gateway.address, "GET", "/ext/echo/whoami", &spoofed));

    let received: Vec<String> = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| format!("{}: {}", pair[0].as_str().unwrap(), pair[1].as_str().unwrap()))
        .collect();
    assert!(
        !received.iter().any(|line| line.contains("mallory")
            || line.contains("forged")
            || line.contains("admins")
            || line.contains("10.0.0.1")),
        "spoofed values reached the upstream: {received:#?}"
    );
    // The gateway's own forwarding headers replace the client's.
    assert_eq!(header_values(&echo, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(header_values(&echo, "x-forwarded-prefix"), ["/ext/echo"]);
}

#[test]
fn forwarding_headers_and_prefix_stripping() {
    let gateway = echo_gateway();

    let echo = echoed(&raw_http::get(gateway.address, "/ext/echo/app/page?x=1&y=%2F"));

    assert_eq!(echo["path"], "/app/page");
    assert_eq!(echo["query"], "x=1&y=%2F");
    assert_eq!(header_values(&echo, "x-forwarded-prefix"), ["/ext/echo"]);
    assert_eq!(header_values(&echo, "x-forwarded-proto"), ["http"]);
    assert_eq!(header_values(&echo, "x-forwarded-host"), [gateway.address.to_string()]);

    let unstripped = echoed(&raw_http::get(gateway.address, "/somewhere"));
    assert_eq!(unstripped["path"], "/somewhere");
    assert!(header_values(&unstripped, "x-forwarded-prefix").is_empty());
}

#[test]
fn every_request_gets_lunas_own_request_id_upstream_and_back() {
    let gateway = echo_gateway();

    let response = raw_http::request(gateway.address, "GET", "/somewhere", &[("X-Request-Id", "forged")]);

    let sent = header_values(&echoed(&response), "x-request-id");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].len() == 16 && sent[0].bytes().all(|byte| byte.is_ascii_hexdigit()), "{sent:?}");
    assert_eq!(response.header("x-request-id"), Some(sent[0].as_str()), "the same id back to the client");
    let other = raw_http::get(gateway.address, "/somewhere");
    assert_ne!(other.header("x-request-id"), Some(sent[0].as_str()), "one id per request");
    let local = raw_http::get(gateway.address, "/%2e%2e/x");
    assert!(local.header("x-request-id").is_some(), "answers of the gateway itself carry one too");
}

#[test]
fn path_tricks_are_refused_or_routed_canonically() {
    let gateway = echo_gateway();
    let refused = [
        "/ext/..%2fapi/supervisor",
        "/ext/echo/..%2F..%2Fapi",
        "/ext/echo/a%5cb",
        "/ext/echo/a\\b",
        "/ext/echo/a%00b",
        "/..",
        "/ext/echo/../../../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/ext/echo/%zz",
    ];
    for target in refused {
        let response = raw_http::get(gateway.address, target);
        assert_eq!(response.status, 400, "{target}: {}", response.body);
    }

    // (request target, path the upstream must see, served by the stripping /ext/echo route)
    let canonical = [
        ("/ext/echo/%2e%2e/secret", "/ext/secret", false),
        ("/ext/echo/./a/%2E/b", "/a/b", true),
        ("//ext//echo//a", "/a", true),
        ("/ext/echo/%252e%252e/x", "/%252e%252e/x", true),
        ("/ext/echo/%7euser", "/~user", true),
        ("/ext/other/../echo/in", "/in", true),
    ];
    for (target, upstream_path, via_echo_route) in canonical {
        let echo = echoed(&raw_http::get(gateway.address, target));
        assert_eq!(echo["path"], upstream_path, "{target}");
        let stripped = !header_values(&echo, "x-forwarded-prefix").is_empty();
        assert_eq!(stripped, via_echo_route, "{target} is routed by its canonical path");
    }
}

#[test]
fn a_stopped_upstream_gives_502_naming_the_route_without_hanging() {
    let closed_port = free_port();
    let gateway = TestGateway::start(vec![Route::new(
        "/ext/down",
        "ext:down",
        Upstream::Tcp(format!("127.0.0.1:{closed_port}").parse().unwrap()),
    )]);

    let started = Instant::now();
    let json = raw_http::request(gateway.address, "GET", "/ext/down/", &[("Accept", "application/json")]);
    let took = started.elapsed();

    assert_eq!(json.status, 502);
    assert!(took < Duration::from_secs(1), "502 took {took:?}");
    let body: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(body["error"], "upstream_unavailable");
    assert!(body["detail"].as_str().unwrap().contains("ext:down"));

    let html = raw_http::request(gateway.address, "GET", "/ext/down/", &[("Accept", "text/html")]);
    assert_eq!(html.status, 502);
    assert!(html.body.contains("ext:down") && html.body.contains("<html"), "{}", html.body);
}

#[test]
fn websocket_upgrades_pass_through() {
    let upstream = runtime().block_on(start_websocket_echo());
    let gateway = TestGateway::start(vec![Route::new("/ext/ws", "ext:ws", Upstream::Tcp(upstream)).stripping_prefix()]);

    runtime().block_on(async {
        let url = format!("ws://{}/ext/ws/socket", gateway.address);
        let (mut socket, response) = tokio_tungstenite::connect_async(url).await.expect("websocket handshake");
        assert_eq!(response.status(), 101);
        for message in ["one", "two"] {
            socket.send(message.into()).await.unwrap();
            let reply = socket.next().await.unwrap().unwrap();
            assert_eq!(reply.into_text().unwrap().as_str(), format!("echo:{message}"));
        }
    });
}

#[test]
fn routes_swap_atomically_while_serving() {
    let gateway = echo_gateway();
    assert_eq!(raw_http::get(gateway.address, "/healthz").status, 200);

    gateway.routes.store(std::sync::Arc::new(luna::gateway::routes::RouteTable::new([])));

    let response = raw_http::request(gateway.address, "GET", "/healthz", &[("Accept", "application/json")]);
    assert_eq!(response.status, 404);
}

#[test]
fn two_authorization_headers_are_refused_before_any_upstream() {
    let gateway = echo_gateway();
    let twice = [("Authorization", "Bearer first"), ("Authorization", "Bearer second")];

    let response = raw_http::request(gateway.address, "GET", "/ext/echo/whoami", &twice);

    assert_eq!(response.status, 400, "{}", response.body);
    assert!(response.body.contains("invalid_request"), "{}", response.body);
    let once = echoed(&raw_http::request(gateway.address, "GET", "/ext/echo/whoami", &twice[..1]));
    assert_eq!(header_values(&once, "authorization"), ["Bearer first"]);
}

/// One keep-alive exchange on `stream`: sends `request`, reads one whole response
/// (Content-Length bodies only); `None` if the connection was closed instead.
fn exchange_keeping_alive(stream: &mut std::net::TcpStream, request: &str) -> Option<String> {
    use std::io::{Read, Write};
    stream.write_all(request.as_bytes()).ok()?;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            if received.len() >= end + 4 + length {
                return Some(head);
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

#[test]
fn a_gateway_502_announces_the_close_it_makes() {
    let closed_port = free_port();
    let gateway = TestGateway::start(vec![Route::new(
        "/ext/down",
        "ext:down",
        Upstream::Tcp(format!("127.0.0.1:{closed_port}").parse().unwrap()),
    )]);
    let mut stream = std::net::TcpStream::connect(gateway.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let request = format!("GET /ext/down/x HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n", gateway.address);

    let first = exchange_keeping_alive(&mut stream, &request).expect("an answer");
    assert!(first.starts_with("http/1.1 502"), "{first}");
    // The next request at once on the same connection: answered, or the close was announced.
    let second = exchange_keeping_alive(&mut stream, &request);
    assert!(second.is_some() || first.contains("connection: close"), "closed without saying so:\n{first}");
}

#[test]
fn a_silent_upstream_is_cut_at_the_read_timeout() {
    // Accepts connections and reads requests, and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let gateway = TestGateway::start_with_idle_timeout(
        vec![Route::new("/ext/silent", "ext:silent", Upstream::Tcp(silent))],
        Some(Duration::from_secs(2)),
    );

    let started = Instant::now();
    let response = raw_http::request(gateway.address, "GET", "/ext/silent/x", &[("Accept", "application/json")]);

    let waited = started.elapsed();
    assert_eq!(response.status, 504, "{}", response.body);
    assert!(waited >= Duration::from_secs(2), "cut at the timeout, not before: {waited:?}");
    assert_eq!(response.header("connection"), Some("close"));
}

/// How an upstream that answers a POST at once (before reading its body) ends the connection.
#[derive(Clone, Copy, Debug)]
enum EarlyEnd {
    /// Closes with the body unread: the kernel resets the connection.
    Abrupt,
    /// The same, without announcing the close (`Connection: close`) first.
    Unannounced,
    /// Stops sending, waits a little, then closes.
    Graceful,
    /// Sends `Content-Length: 100` and ten bytes of it, then resets: a cut answer.
    Cut,
    /// Neither reads on nor closes (for 30 s).
    Stalled,
}

const EARLY_BODY: &str = "too large: this upstream takes 1 KiB at most\n";

/// An upstream that reads each request's head only and answers 413 at once.
fn early_answering_upstream(end: EarlyEnd) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let answer = match end {
                EarlyEnd::Cut => "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 100\r\n\r\n0123456789".to_string(),
                EarlyEnd::Unannounced => format!(
                    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: {}\r\n\r\n{EARLY_BODY}",
                    EARLY_BODY.len()
                ),
                _ => format!(
                    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{EARLY_BODY}",
                    EARLY_BODY.len()
                ),
            };
            let _ = stream.write_all(answer.as_bytes());
            match end {
                EarlyEnd::Graceful => {
                    let _ = stream.shutdown(std::net::Shutdown::Write);
                    std::thread::sleep(Duration::from_millis(200));
                }
                EarlyEnd::Stalled => std::thread::sleep(Duration::from_secs(30)),
                _ => {}
            }
        }
    });
    address
}

/// POSTs 8 MiB to `target` (by `Content-Length` or chunked) from one thread while reading the
/// answer on another, as a browser does: (everything read until the close, how long it took).
fn post_large(gateway: std::net::SocketAddr, target: &str, chunked: bool) -> (String, Duration) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(gateway).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let framing =
        if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {}", 8 << 20) };
    let head = format!("POST {target} HTTP/1.1\r\nHost: {gateway}\r\nAccept: application/json\r\n{framing}\r\n\r\n");
    let started = Instant::now();
    std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 << 10];
        writer.write_all(head.as_bytes())?;
        for _ in 0..128 {
            if chunked {
                writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            }
            writer.write_all(&chunk)?;
            if chunked {
                writer.write_all(b"\r\n")?;
            }
        }
        if chunked {
            writer.write_all(b"0\r\n\r\n")?;
        }
        std::io::Result::Ok(())
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            // A reset after the answer (the gateway closes a half-sent upload) ends it too.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(error) => panic!("reading the answer: {error} after {:?}", started.elapsed()),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[test]
fn an_upstream_that_answers_before_reading_the_body_is_heard() {
    for end in [EarlyEnd::Abrupt, EarlyEnd::Unannounced, EarlyEnd::Graceful] {
        for chunked in [false, true] {
            let upstream = early_answering_upstream(end);
            let gateway = TestGateway::start(vec![Route::new("/ext/small", "ext:small", Upstream::Tcp(upstream))]);
            let (answer, took) = post_large(gateway.address, "/ext/small/upload", chunked);
            let case = format!("{end:?}, chunked {chunked}");
            assert!(answer.starts_with("HTTP/1.1 413"), "{case}: {answer}");
            assert!(answer.ends_with(EARLY_BODY), "{case}: the upstream's own body, whole: {answer}");
            assert!(took < Duration::from_secs(5), "{case}: took {took:?}");
        }
    }
}

#[test]
fn a_cut_upstream_answer_stays_cut_and_is_not_padded_with_an_error_page() {
    let upstream = early_answering_upstream(EarlyEnd::Cut);
    let gateway = TestGateway::start(vec![Route::new("/ext/small", "ext:small", Upstream::Tcp(upstream))]);
    let (answer, _) = post_large(gateway.address, "/ext/small/upload", false);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    assert_eq!(body, "0123456789", "the ten bytes sent, then the close");
}

#[test]
fn an_upstream_that_answers_and_stops_reading_is_heard_at_the_idle_timeout() {
    let upstream = early_answering_upstream(EarlyEnd::Stalled);
    let route = Route::new("/ext/small", "ext:small", Upstream::Tcp(upstream));
    let gateway = TestGateway::start_with_idle_timeout(vec![route], Some(Duration::from_secs(2)));
    let (answer, took) = post_large(gateway.address, "/ext/small/upload", false);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.ends_with(EARLY_BODY), "{answer}");
    assert!(took < Duration::from_secs(8), "not held until the upstream lets go: {took:?}");
}
