//! A real Prometheus (Debian's `prometheus` package) on loopback, scraping one Luna every
//! second with a bearer token, and its HTTP query API.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Prometheus {
    pub address: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target`'s `/metrics` with `token` as the bearer.
    pub fn scraping(target: SocketAddr, token: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, token).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: luna\n    \
             metrics_path: /metrics\n    authorization:\n      type: Bearer\n      credentials_file: {}\n    \
             static_configs:\n      - targets: [\"{target}\"]\n",
            token_file.display()
        );
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        let address: SocketAddr = format!("127.0.0.1:{}", super::free_port()).parse().unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={address}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus (scripts/deps.sh --test installs it)");
        let prometheus = Self { address, child, _dir: dir };
        super::wait_until(Duration::from_secs(20), "Prometheus to be ready", || {
            super::is_listening(address) && super::raw_http::get(address, "/-/ready").status == 200
        });
        prometheus
    }

    /// The value of the first series `query` answers, if it answers any.
    pub fn value(&self, query: &str) -> Option<f64> {
        let target = format!("/api/v1/query?query={}", super::browser::url_encode(query));
        let response = super::raw_http::get(self.address, &target);
        let answer: serde_json::Value = serde_json::from_str(&response.body).ok()?;
        answer["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `query` answers a value for which `check` holds; returns it.
    pub fn wait_for(&self, query: &str, check: impl Fn(f64) -> bool) -> f64 {
        let mut last = None;
        super::wait_until(Duration::from_secs(20), &format!("Prometheus to answer {query}"), || {
            last = self.value(query);
            last.is_some_and(&check)
        });
        last.unwrap()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
