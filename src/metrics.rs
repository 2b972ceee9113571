//! Prometheus metrics (`GET /metrics`, the text format 0.0.4): what the gateway, MCP and the
//! authorization server count as they work, kept here; what is read at scrape time (process
//! and service states, certificate expiry) is added by the application layer
//! (`app/metrics.rs`).
//!
//! Every label set is bounded: routes by their names (the core routes and one per installed
//! app, never a request path), methods by the standard ones, statuses by class, tools by the
//! catalog's names (a call for an unknown name is never counted under that name), OAuth events
//! by kind. Never a user name, path or client id.

use std::time::Duration;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Seconds, for request latencies: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Seconds, for tool calls: 1 ms to 60 s.
const TOOL_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    upstream_errors: IntCounterVec,
    /// Requests the gateway is working on.
    pub in_flight: IntGauge,
    /// WebSocket connections and event streams open through the gateway.
    pub open_streams: IntGauge,
    tool_calls: IntCounterVec,
    tool_duration: HistogramVec,
    oauth_events: IntCounterVec,
}

/// What became of an MCP tool call.
#[derive(Debug, Clone, Copy)]
pub enum ToolOutcome {
    Ok,
    /// The tool ran and answered an error result (or timed out, or was too large).
    Error,
    /// The caller's role does not allow it.
    Refused,
}

/// What the authorization server did.
#[derive(Debug, Clone, Copy)]
pub enum OAuthEvent {
    Registration,
    Grant,
    TokenIssued,
    Refresh,
    Refusal,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let family = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter");
            registry.register(Box::new(family.clone())).expect("a metric registered once");
            family
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
            let family = HistogramVec::new(opts, labels).expect("a valid histogram");
            registry.register(Box::new(family.clone())).expect("a metric registered once");
            family
        };
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("a valid gauge");
            registry.register(Box::new(gauge.clone())).expect("a metric registered once");
            gauge
        };
        Self {
            in_flight: gauge("luna_http_requests_in_flight", "Requests the gateway is answering now."),
            open_streams: gauge(
                "luna_http_open_streams",
                "WebSocket connections and event streams open through the gateway now.",
            ),
            requests: counter(
                "luna_http_requests_total",
                "Requests the gateway answered, by route, method and status class.",
                &["route", "method", "status"],
            ),
            request_duration: histogram(
                "luna_http_request_duration_seconds",
                "Time from a request's arrival to the end of its answer, by route.",
                &["route"],
                LATENCY_BUCKETS,
            ),
            upstream_errors: counter(
                "luna_upstream_errors_total",
                "Requests an upstream did not answer, by route and kind (connect, timeout, other).",
                &["route", "kind"],
            ),
            tool_calls: counter(
                "luna_mcp_tool_calls_total",
                "MCP tool calls, by tool and outcome (ok, error, refused).",
                &["tool", "outcome"],
            ),
            tool_duration: histogram(
                "luna_mcp_tool_call_duration_seconds",
                "Time an MCP tool call took, by tool.",
                &["tool"],
                TOOL_BUCKETS,
            ),
            oauth_events: counter(
                "luna_oauth_events_total",
                "What the authorization server did: registration, grant, token, refresh, refusal.",
                &["event"],
            ),
            registry,
        }
    }

    /// One answered request. `status` 0: the client went away before an answer.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests.with_label_values(&[route, method_label(method), status_class(status)]).inc();
        self.request_duration.with_label_values(&[route]).observe(took.as_secs_f64());
    }

    pub fn upstream_error(&self, route: &str, kind: &'static str) {
        self.upstream_errors.with_label_values(&[route, kind]).inc();
    }

    /// A call of catalog tool `tool`.
    pub fn tool_call(&self, tool: &str, outcome: ToolOutcome, took: Duration) {
        let outcome = match outcome {
            ToolOutcome::Ok => "ok",
            ToolOutcome::Error => "error",
            ToolOutcome::Refused => "refused",
        };
        self.tool_calls.with_label_values(&[tool, outcome]).inc();
        self.tool_duration.with_label_values(&[tool]).observe(took.as_secs_f64());
    }

    pub fn oauth(&self, event: OAuthEvent) {
        let event = match event {
            OAuthEvent::Registration => "registration",
            OAuthEvent::Grant => "grant",
            OAuthEvent::TokenIssued => "token",
            OAuthEvent::Refresh => "refresh",
            OAuthEvent::Refusal => "refusal",
        };
        self.oauth_events.with_label_values(&[event]).inc();
    }

    /// The text exposition of these metrics and of `more` (read at scrape time).
    pub fn encode(&self, more: &Registry) -> String {
        let mut families = self.registry.gather();
        families.extend(more.gather());
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&families, &mut buffer) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded_whatever_the_request() {
        let metrics = Metrics::new();
        for (method, status) in [("GET", 200), ("BREW", 418), ("get", 0), ("DELETE", 503)] {
            metrics.request("hub", method, status, Duration::from_millis(3));
        }
        let text = metrics.encode(&Registry::new());
        assert!(text.contains(r#"luna_http_requests_total{method="other",route="hub",status="4xx"} 1"#), "{text}");
        assert!(text.contains(r#"luna_http_requests_total{method="other",route="hub",status="none"} 1"#));
        assert!(text.contains(r#"luna_http_request_duration_seconds_count{route="hub"} 4"#));
    }
}
