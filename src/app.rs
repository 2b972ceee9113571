//! The application layer: [`Luna`], the one value every front-end holds — the HTTP API (and
//! through it the CLI and the Hub), the MCP admin tools, later the agent API. It holds the
//! typed services (processes and extensions through the [`Supervisor`], external services,
//! tools, OAuth, sessions, certificates); its own methods compose them into the answers the
//! front-ends show. Front-ends only translate: request → call → response. Nothing here sees
//! a request, an extractor or a status code.
//!
//! ```text
//! front-ends   api/ (HTTP, CLI over it, Hub)   mcp/admin.rs   (agent API)
//!                        │                          │
//! application  Luna: processes · external services · tools · oauth · auth · certificates
//!                        │
//! engine       actor tree (ractor) · pingora · bollard · sqlx
//! ```

mod access;
mod certs;
mod doctor;
mod keys;
mod mcp;
mod metrics;
mod offers;
mod processes;
mod readme;
mod status;
mod store;
mod tools;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

pub use access::{Caller, Operation, Role};
pub use certs::CertsDocument;
pub use keys::{KeyChange, KeyView, KeysReport, Requirement};
pub use mcp::McpAccess;
pub use offers::{OfferEntry, OfferError, OfferSwitch};
pub use processes::{LogTail, MAX_TAIL_LINES, ToolEntry, ToolsReport, Troubleshooting};
pub use readme::Readme;
pub use status::StatusReport;
pub use store::{AddonDetail, Dependencies, Dependency, StoreInstalled, StoreListing};
pub use tools::{Surface, ToolCallError, operation_of};

use crate::auth::Auth;
use crate::external::ExternalServices;
use crate::gateway::site::Site;
use crate::oauth::OAuth;
use crate::settings::DeploymentMode;
use crate::shutdown::DrainTrigger;
use crate::supervisor::{Supervisor, SupervisorError};
use crate::tls::Certificates;
use crate::tools::ToolRegistry;

/// The running Luna, as front-ends see it. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct Luna {
    pub supervisor: Supervisor,
    /// Installs, updates and removals of extensions.
    pub packages: Arc<crate::packages::Packages>,
    /// The owner's keys (`.env`), as every process started from now on gets them.
    pub secrets: crate::env_file::SharedSecrets,
    /// Held while `.env` is rewritten.
    pub keys_lock: Arc<tokio::sync::Mutex<()>>,
    pub home: crate::home::LunaHome,
    pub auth: Arc<Auth>,
    pub shutdown: DrainTrigger,
    pub deployment_mode: DeploymentMode,
    /// The HTTPS listener's certificates; `None` in local mode.
    pub certificates: Option<Arc<Certificates>>,
    pub started: Instant,
    pub started_at: SystemTime,
    pub tools: ToolRegistry,
    pub external_services: Arc<ExternalServices>,
    /// What changed, for the Hub's live updates.
    pub events: crate::events::Events,
    /// The gateway's names, which MCP's Host/Origin checks use too.
    pub site: Site,
    /// Luna's OAuth authorization server for MCP clients.
    pub oauth: Arc<OAuth>,
    /// Who did what.
    pub audit: Arc<crate::audit::Audit>,
    /// What the gateway, MCP and OAuth count, for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The sessions of `/api/mcp`.
    pub mcp_sessions: Arc<crate::mcp::sessions::McpSessions>,
    /// Cancelled when Luna stops: ends MCP sessions and their streams.
    pub mcp_shutdown: tokio_util::sync::CancellationToken,
    /// The model behind the Agent API.
    pub llm: Arc<crate::agent::llm::Llm>,
    /// `luna doctor`'s checks, with the settings Luna started with.
    pub doctor: Arc<crate::doctor::Doctor>,
    /// The Addon Store's registries.
    pub store: Arc<crate::store::Store>,
}

/// Why an operation of the application layer failed; front-ends map each kind to their own
/// answer (an HTTP status, a CLI exit code, an MCP error result).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The caller asked for something that cannot be: a bad parameter.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The caller's role does not allow the operation.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    /// A server Luna depends on (the ACME CA) failed.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
}
