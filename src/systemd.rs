//! Luna as a systemd service (`Type=notify`, `install/luna.service`): it reports ready once the
//! gateway and the core answer, and keeps the watchdog fed only while they still do.
//!
//! The pings come from probes of the real entry points, not from a timer that runs whatever
//! state the rest of the process is in: a gateway whose workers are stuck, a core API that no
//! longer answers or an actor tree that no longer replies stops the pings, and systemd restarts
//! Luna after `WatchdogSec`. A stopped process (SIGSTOP) sends nothing at all, likewise.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) none of this runs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How often the probes run before Luna is ready.
const STARTING_PROBE_INTERVAL: Duration = Duration::from_millis(200);
/// How often they run when systemd keeps no watchdog (`READY=1` is all it needs then).
const IDLE_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// One probe's limit: a gateway or core slower than this counts as not answering.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the probes go.
pub struct Probes {
    /// The gateway's plain-HTTP listener.
    pub gateway: SocketAddr,
    /// The core API's socket.
    pub api_socket: PathBuf,
}

/// Whether systemd is listening for Luna's notifications.
pub fn is_supervising() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// Reports `READY=1` after the first probe that passes, then `WATCHDOG=1` after each one that
/// passes, a few times per `WatchdogSec`. Runs until dropped.
pub async fn notify(probes: Probes) {
    let watchdog = sd_notify::watchdog_enabled();
    // Three chances per watchdog period: one slow probe does not get Luna restarted.
    let interval = watchdog.map_or(IDLE_PROBE_INTERVAL, |period| (period / 3).max(Duration::from_millis(100)));
    let mut ready = false;
    let mut failing = false;
    loop {
        match probes.check().await {
            Ok(()) => {
                let state = if ready { NotifyState::Watchdog } else { NotifyState::Ready };
                if let Err(error) = sd_notify::notify(&[state, NotifyState::Status("serving")]) {
                    tracing::warn!(%error, "cannot notify systemd");
                }
                if failing {
                    tracing::info!("the gateway and the core answer again");
                }
                ready = true;
                failing = false;
            }
            Err(reason) if !failing => {
                tracing::warn!(%reason, "health probe failed; systemd's watchdog is not fed while this lasts");
                failing = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(if ready { interval } else { STARTING_PROBE_INTERVAL }).await;
    }
}

/// Tells systemd that Luna is stopping, so `systemctl status` says so during the drain.
pub fn stopping() {
    if is_supervising() {
        let _ = sd_notify::notify(&[NotifyState::Stopping]);
    }
}

impl Probes {
    async fn check(&self) -> Result<(), String> {
        tokio::time::timeout(PROBE_TIMEOUT, self.gateway_answers())
            .await
            .map_err(|_| format!("the gateway on {} did not answer within {PROBE_TIMEOUT:?}", self.gateway))??;
        tokio::time::timeout(PROBE_TIMEOUT, self.core_answers())
            .await
            .map_err(|_| format!("the core API did not answer within {PROBE_TIMEOUT:?}"))?
    }

    /// Any HTTP answer to `/healthz` will do: in the public modes the plain listener redirects
    /// it to HTTPS, which still proves a gateway worker took the request.
    async fn gateway_answers(&self) -> Result<(), String> {
        let target = reachable(self.gateway);
        let mut stream = tokio::net::TcpStream::connect(target)
            .await
            .map_err(|error| format!("cannot connect to the gateway on {target}: {error}"))?;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.map_err(|error| format!("writing to the gateway: {error}"))?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.map_err(|error| format!("reading the gateway's answer: {error}"))?;
        if head.starts_with(b"HTTP/1.") { Ok(()) } else { Err("the gateway's answer is not HTTP".to_string()) }
    }

    /// The status document needs the actor tree's answer, so a stuck supervisor fails it too.
    async fn core_answers(&self) -> Result<(), String> {
        let client = crate::cli::ApiClient::new(self.api_socket.clone());
        client.get::<serde_json::Value>("/api/supervisor/status").await.map(drop).map_err(|error| error.to_string())
    }
}

/// A listener on every interface is probed on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port()),
        _ => listen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_on_every_interface_are_probed_on_loopback() {
        assert_eq!(reachable("0.0.0.0:80".parse().unwrap()), "127.0.0.1:80".parse().unwrap());
        assert_eq!(reachable("[::]:80".parse().unwrap()), "[::1]:80".parse().unwrap());
        assert_eq!(reachable("10.0.0.2:8800".parse().unwrap()), "10.0.0.2:8800".parse().unwrap());
    }
}
