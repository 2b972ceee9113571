//! Luna: a self-hosted gateway for a personal AI hub, in one process.
//!
//! # Layout
//!
//! - [`settings`]: `config/luna.toml` < `LUNA_*` environment < flags, validated once into
//!   [`settings::Settings`]; `.env` secrets in [`env_file`].
//! - [`server`]: assembles the pingora [`pingora::server::Server`]: the gateway proxy service
//!   plus the background service that runs the core API and the actor tree.
//! - [`gateway`]: the pingora `ProxyHttp` implementation: canonical paths, identity-header
//!   stripping, the route table, error pages, access log.
//! - [`app`]: the application layer, [`app::Luna`]: the typed services every front-end calls
//!   (the HTTP API, and through it the CLI and the Hub; the MCP admin tools).
//! - [`events`]: the change feed (which part changed) that the Hub follows over SSE.
//! - [`api`]: the core API (axum) served on a Unix socket under `.luna/run/`: HTTP in, calls
//!   to [`app::Luna`], HTTP out.
//! - [`supervisor`]: the ractor actor tree (`LunaRoot` → `Core`, `Extensions` →
//!   `Extension` → `Process`, `ExternalServices`): process supervision, health, restarts.
//! - [`external`]: external services (Docker containers, or the unsafe shell adapter): the
//!   catalog of definitions, install/update/uninstall, the registry, health checks.
//! - [`store`]: the Addon Store's catalog (what ships with Luna and the registries by URL),
//!   its registry format, search, filters and sort.
//! - [`tls`]: HTTPS certificates (self-signed, provided, or ACME via instant-acme) and the
//!   manager that renews them.
//! - [`extensions`]: extension folders on disk (config.json, services, tools), config sync
//!   and port assignment; [`master_config`]: `.luna/master_config.json`.
//! - [`tools`]: the tool registry (one snapshot of every extension's tools), the tool
//!   hosts' MCP clients and the Python tool host shipped in the binary; [`mcp`]: the
//!   `/api/mcp` endpoint (rmcp streamable HTTP) and who may use it; [`oauth`]: Luna as the
//!   OAuth authorization server of that endpoint (clients, grants, codes, tokens).
//! - [`systemd`]: readiness and watchdog notifications under `install/luna.service`.
//! - [`sys`]: process groups, process start times, port owners (Linux `/proc`).
//! - [`allow_list`]: who may log in (`auth.allowed_users`/`allowed_orgs`: ids or logins) and
//!   who of them is an admin (`auth.admins`);
//!   [`auth`]: GitHub login, sessions, cookies, identity tokens, the gate's verdict;
//!   [`db`]: the sqlx pool (SQLite or Postgres) on its own runtime.
//! - [`shutdown`]: signal handling and the bounded drain that runs before pingora exits;
//!   [`background`]: the long-running tasks, owned and stopped together.
//! - [`doctor`]: `luna doctor`'s checks (ports, DNS, GitHub app, certificate, Docker, disk,
//!   clock, file modes, extensions), run by the running Luna or, when it is down, by the CLI.
//! - [`cli`]: the command line (`serve` starts Luna; every other command is a client of the
//!   core API).
//! - [`home`]: where every file of an installation lives.
//! - [`state_file`]: atomic writes (temp file, fsync, rename) for every state file;
//!   [`clock`]: Unix time and jitter; [`hex`]: hex encoding.
//! - [`logging`]: tracing setup (human-readable or JSON); [`html`]: escaping for Luna's pages.
//!
//! `ARCHITECTURE.md` at the repository root is the long form of this map.

pub mod agent;
pub mod allow_list;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod background;
pub mod cli;
pub mod clock;
pub mod db;
pub mod doctor;
pub mod env_file;
pub mod events;
pub mod extensions;
pub mod external;
pub mod gateway;
pub mod hex;
pub mod home;
pub mod html;
pub mod logging;
pub mod master_config;
pub mod mcp;
pub mod metrics;
pub mod oauth;
pub mod packages;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod state_file;
pub mod store;
pub mod supervisor;
pub mod sys;
pub mod systemd;
pub mod tls;
pub mod tools;
