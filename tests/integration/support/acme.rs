//! A real ACME server: Pebble (Debian's `pebble` package), with `pebble-challtestsrv`
//! answering its DNS queries so any test domain resolves to 127.0.0.1. Pebble validates
//! HTTP-01 on `http_port`, where the test starts Luna's plain-HTTP listener.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustls::pki_types::CertificateDer;

pub struct Pebble {
    /// `https://127.0.0.1:<port>/dir`
    pub directory_url: String,
    /// The CA that signed Pebble's own HTTPS certificate (`acme.ca_bundle`).
    pub ca_bundle: PathBuf,
    listen: SocketAddr,
    management: SocketAddr,
    dns: SocketAddr,
    challtestsrv_management: SocketAddr,
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

/// A program from Debian's `pebble` package; a missing one fails the test with what to install.
fn program(name: &str) -> Command {
    let path = Path::new("/usr/bin").join(name);
    assert!(path.exists(), "{} is missing: install Debian's `pebble` package (scripts/deps.sh --test)", path.display());
    Command::new(path)
}

impl Pebble {
    /// Starts Pebble on a free port, validating HTTP-01 challenges on `http_port`.
    pub fn start(http_port: u16) -> Self {
        let mut pebble = Self::prepare(http_port);
        pebble.run();
        pebble
    }

    /// Chooses ports and writes the configuration and certificates, but starts nothing:
    /// Luna can be pointed at a CA that is not there yet.
    pub fn prepare(http_port: u16) -> Self {
        Self::prepare_issuing(http_port, None)
    }

    /// Starts Pebble issuing certificates valid for `lifetime` (Pebble's default: 5 years).
    pub fn start_issuing(http_port: u16, lifetime: Duration) -> Self {
        let mut pebble = Self::prepare_issuing(http_port, Some(lifetime));
        pebble.run();
        pebble
    }

    fn prepare_issuing(http_port: u16, lifetime: Option<Duration>) -> Self {
        let listen: SocketAddr = format!("127.0.0.1:{}", super::free_port()).parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_bundle = write_tls_files(dir.path());
        let management: SocketAddr = format!("127.0.0.1:{}", super::free_port()).parse().unwrap();
        let dns: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
        let challtestsrv_management: SocketAddr = format!("127.0.0.1:{}", super::free_port()).parse().unwrap();
        let mut config = serde_json::json!({
            "pebble": {
                "listenAddress": listen.to_string(),
                "managementListenAddress": management.to_string(),
                "certificate": dir.path().join("pebble.pem"),
                "privateKey": dir.path().join("pebble.key"),
                "httpPort": http_port,
                "tlsPort": super::free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
            }
        });
        if let Some(lifetime) = lifetime {
            config["pebble"]["certificateValidityPeriod"] = lifetime.as_secs().into();
        }
        std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
        Self {
            directory_url: format!("https://{listen}/dir"),
            ca_bundle,
            listen,
            management,
            dns,
            challtestsrv_management,
            dir,
            children: Vec::new(),
        }
    }

    /// Starts the DNS stand-in and Pebble; returns once both accept connections.
    pub fn run(&mut self) {
        let dir = self.dir.path().to_path_buf();
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let (dns, challtestsrv_management) = (self.dns, self.challtestsrv_management);

        let challtestsrv = program("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &dns.to_string(), "-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &challtestsrv_management.to_string()])
            .stdin(Stdio::null())
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .spawn()
            .expect("start pebble-challtestsrv");
        self.children.push(challtestsrv);
        super::wait_until(Duration::from_secs(10), "pebble-challtestsrv", || {
            super::is_listening(challtestsrv_management)
        });
        let pebble = program("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &dns.to_string()])
            // No random validation delay, no rejected nonces, a fresh validation every order.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("start pebble");
        self.children.push(pebble);
        let (listen, management) = (self.listen, self.management);
        super::wait_until(Duration::from_secs(15), "pebble", || {
            super::is_listening(listen) && super::is_listening(management)
        });
    }

    /// Pebble's root: the certificates it issues chain to it. A new one on every start.
    pub fn root(&self) -> CertificateDer<'static> {
        let pem = self.management_get("/roots/0");
        super::tls::pem_certificates(pem.as_bytes()).remove(0)
    }

    /// Pebble's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    fn management_get(&self, path: &str) -> String {
        let ca = std::fs::read(&self.ca_bundle).unwrap();
        let url = format!("https://{}{path}", self.management);
        super::runtime().block_on(async move {
            let client = reqwest::Client::builder()
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
                .build()
                .unwrap();
            let response = client.get(url).send().await.unwrap();
            assert!(response.status().is_success(), "pebble management {path}: {}", response.status());
            response.text().await.unwrap()
        })
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA and a `localhost`/`127.0.0.1` certificate it signed, for Pebble's own HTTPS.
/// Returns the CA file.
fn write_tls_files(dir: &Path) -> PathBuf {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "test CA for pebble");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("pebble.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("pebble.key"), key.serialize_pem()).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    ca_file
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
