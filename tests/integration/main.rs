//! Black-box tests on real sockets and real processes.
//!
//! - `serve`: the `luna` binary itself, started like the README says, in a temp home.
//! - `gateway`: the real gateway (pingora + `luna::gateway::Gateway`) in front of real
//!   upstreams on loopback: an echo server, a WebSocket echo, a closed port.
//! - `mcp`: `/api/mcp` with real MCP clients (Python SDK, MCP Inspector) and real tool hosts.
//! - `mcp_passthrough`: what servers offer besides tools (resources, prompts, completions,
//!   logging, sampling, elicitation) through `/api/mcp`, checked by the official conformance
//!   suite and real clients; isolation between sessions.
//! - `oauth`: Luna's OAuth authorization server for MCP clients, and the attacks on it.
//! - `external`: external services on a real Docker engine with a real local registry.
//! - `hub`: the Hub in Chromium, every journey a person takes, against all of the above.
//! - `https`: the public modes' HTTPS listener against a real ACME server (Pebble).
//! - `apps`: app origins, the login hop to them, and the Hub's origin closed to them.
//! - `audit`: the audit log through the gateway, the CLI and MCP; its retention.
//! - `metrics`: `/metrics` scraped by a real Prometheus, checked by promtool.
//! - `roles`: admins and members, on every control route, over MCP, after a demotion.
//! - `doctor`: `luna doctor` against a healthy Luna and planted faults.
//! - `installer`: `install/install.sh` in a Debian 12 container with systemd as PID 1.
//! - `store`: the Addon Store's catalog, registries on loopback, installs from it.
//! - `llm_stand_in`: the stand-in OpenAI API (`support/llm.rs`) against its wire format.

mod agent;
mod apps;
mod audit;
mod auth;
mod doctor;
mod extensions;
mod external;
mod gateway;
mod https;
mod hub;
mod installer;
mod llm_stand_in;
mod mcp;
mod mcp_passthrough;
mod metrics;
mod oauth;
mod packages;
mod roles;
mod serve;
mod store;
mod support;
