//! A TLS client that verifies like a browser would (against given roots, by name) and keeps
//! its connection open, so tests can see which certificate a handshake got and whether an
//! old connection survives a certificate swap.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::raw_http::RawResponse;

pub struct TlsConnection {
    stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
    host: String,
}

/// Every certificate in a PEM file.
pub fn pem_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem).map(Result::unwrap).collect()
}

impl TlsConnection {
    /// Connects to `address` for `host` (SNI and verification), trusting only `roots`, and
    /// completes the handshake. `alpn` is what the client offers.
    pub fn open(
        address: SocketAddr,
        host: &str,
        roots: &[CertificateDer<'static>],
        alpn: &[&[u8]],
    ) -> Result<Self, String> {
        let mut store = RootCertStore::empty();
        for root in roots {
            store.add(root.clone()).map_err(|error| error.to_string())?;
        }
        let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        let name = ServerName::try_from(host.to_string()).map_err(|error| error.to_string())?;
        let mut connection = ClientConnection::new(Arc::new(config), name).map_err(|error| error.to_string())?;
        let mut socket = TcpStream::connect_timeout(&address, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        socket.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        while connection.is_handshaking() {
            connection.complete_io(&mut socket).map_err(|error| error.to_string())?;
        }
        // `Host` as a browser sends it: with the port when it is not 443.
        let host = if address.port() == 443 { host.to_string() } else { format!("{host}:{}", address.port()) };
        Ok(Self { stream: BufReader::new(StreamOwned::new(connection, socket)), host })
    }

    /// The server's leaf certificate.
    pub fn leaf(&self) -> CertificateDer<'static> {
        self.stream.get_ref().conn.peer_certificates().expect("a handshake happened")[0].clone().into_owned()
    }

    /// The protocol ALPN settled on.
    pub fn alpn(&self) -> Option<Vec<u8>> {
        self.stream.get_ref().conn.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// A keep-alive GET; the response must carry `Content-Length`.
    pub fn get(&mut self, target: &str) -> RawResponse {
        let request = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.stream.get_mut().write_all(request.as_bytes()).expect("send over TLS");
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let read = self.stream.read_line(&mut line).expect("read the response head");
            assert!(read > 0, "the server closed the connection");
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let response = RawResponse { status: 0, head: head.trim_end().to_string(), body: String::new() };
        let length: usize = response.header("content-length").expect("content-length").parse().unwrap();
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).expect("read the body");
        let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        RawResponse { status, body: String::from_utf8_lossy(&body).into_owned(), ..response }
    }
}

/// Serial number of a certificate, as Luna's API prints it.
pub fn serial(certificate: &CertificateDer<'_>) -> String {
    luna::tls::pem::CertificateFacts::of(certificate).unwrap().serial
}
