//! `/metrics`: the counters the gateway, MCP and OAuth keep ([`crate::metrics::Metrics`]),
//! and the states read at scrape time: processes, external services, the certificate.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::Luna;
use crate::external::registry::Status as ServiceStatus;
use crate::supervisor::process::Status;

impl Luna {
    /// The text exposition of every metric.
    pub async fn metrics_text(&self) -> String {
        let now = Registry::new();
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            let family = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge");
            now.register(Box::new(family.clone())).expect("registered once");
            family
        };
        let build = gauges("luna_build_info", "The running Luna's version (always 1).", &["version"]);
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let started = IntGauge::new("luna_start_time_seconds", "When Luna started, in Unix seconds.").expect("valid");
        let started_at = self.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
        started.set(i64::try_from(started_at).unwrap_or(i64::MAX));
        now.register(Box::new(started)).expect("registered once");

        if let Ok(services) = self.supervisor.services().await {
            let up = gauges("luna_process_up", "Whether a managed process runs (1) or not (0).", &["process"]);
            let healthy = gauges(
                "luna_process_healthy",
                "Whether a managed process's last health check passed (1) or failed (0).",
                &["process"],
            );
            let restarts = IntCounterVec::new(
                Opts::new("luna_process_restarts_total", "Restarts of a managed process since Luna started."),
                &["process"],
            )
            .expect("a valid counter");
            now.register(Box::new(restarts.clone())).expect("registered once");
            let failures = IntCounterVec::new(
                Opts::new("luna_process_health_check_failures_total", "Failed health checks of a managed process."),
                &["process"],
            )
            .expect("a valid counter");
            now.register(Box::new(failures.clone())).expect("registered once");
            for (key, record) in &services.services {
                up.with_label_values(&[key]).set(i64::from(record.status == Status::Running));
                failures.with_label_values(&[key]).inc_by(u64::from(record.health_check_failures));
                if let Some(check) = &record.last_health_check {
                    healthy.with_label_values(&[key]).set(i64::from(check.ok));
                }
                restarts.with_label_values(&[key]).inc_by(u64::from(record.restarts));
            }
        }

        let services =
            gauges("luna_external_service_up", "Whether an external service runs (1) or not (0).", &["service"]);
        for (name, view) in self.external_services.installed(false) {
            services.with_label_values(&[&name]).set(i64::from(view.status == ServiceStatus::Running));
        }

        let sessions = IntGauge::new("luna_mcp_sessions", "Open MCP sessions (2025-11-25 protocol).").expect("valid");
        sessions.set(i64::try_from(self.mcp_sessions.count()).unwrap_or(i64::MAX));
        now.register(Box::new(sessions)).expect("registered once");

        if let Some(certificates) = &self.certificates {
            let expiry = IntGauge::new(
                "luna_certificate_expiry_timestamp_seconds",
                "When the served HTTPS certificate expires, in Unix seconds.",
            )
            .expect("valid");
            expiry.set(certificates.report().certificate.not_after.unix_timestamp());
            now.register(Box::new(expiry)).expect("registered once");
        }
        self.metrics.encode(&now)
    }
}
