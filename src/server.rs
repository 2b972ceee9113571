//! Assembles and runs the `luna serve` process.
//!
//! pingora owns the process: its `Server` holds the signals and the runtimes. Luna adds
//! two services to it:
//!
//! - the gateway proxy service (the only TCP listener), and
//! - the core background service, which spawns the actor tree, serves the core API on its
//!   Unix socket, and drains both when [`crate::shutdown`] asks.
//!
//! Both listeners are checked before pingora starts, so a port or socket in use is a clear
//! start-up error, not a panic inside a runtime.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownWatch};
use pingora::services::background::{BackgroundService, background_service};

use crate::api;
use crate::app::Luna;
use crate::auth::Auth;
use crate::db::{Database, DatabaseRuntime};
use crate::gateway;
use crate::gateway::app_ports::AppPorts;
use crate::gateway::routes::{RouteHandle, RouteTable};
use crate::gateway::site::Site;
use crate::master_config::MasterConfig;
use crate::settings::Settings;
use crate::shutdown::{DrainListener, DrainTrigger, LunaSignals, drain};
use crate::supervisor::{Supervisor, TreeArgs, core_routes};
use crate::tls::Certificates;
use crate::tools::ToolRegistry;

/// In-flight gateway requests get this long once the drain is done.
const GRACE_PERIOD_SECONDS: u64 = 1;
/// Then pingora's runtimes get this long to wind down.
const RUNTIME_SHUTDOWN_SECONDS: u64 = 2;
/// Timeouts longer than this run on tokio's timer instead of pingora's fast timer. The fast
/// timer keeps a cancelled entry until its original deadline, so the 300 s upstream read
/// timeout of every request that finished early (all of them) held memory for five minutes
/// under load; tokio drops a cancelled timer at once.
const FAST_TIMER_MAX_SECONDS: u64 = 10;
/// Part of the drain budget for background tasks to notice they are to stop.
const BACKGROUND_STOP_TIMEOUT: Duration = Duration::from_millis(500);
/// Part of the drain budget reserved for the API to finish open requests.
const API_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A built server, ready to [`run`](LunaServer::run).
pub struct LunaServer {
    server: Server,
    trigger: DrainTrigger,
    /// Kept until the server has stopped: the database's connections live on it.
    database: DatabaseRuntime,
}

impl LunaServer {
    pub fn build(mut settings: Settings) -> Result<Self, StartError> {
        let home = settings.home.clone();
        let doctor = Arc::new(crate::doctor::Doctor::new(&settings));
        let store =
            Arc::new(crate::store::Store::new(settings.store_registries.clone(), home.state_dir().join("store")));
        home.create_state_dirs().with_context(|| format!("creating {}", home.state_dir().display()))?;
        ensure_tokens(&mut settings)?;
        let master =
            MasterConfig::load(&home.master_config_file()).map_err(|error| StartError::Config(error.to_string()))?;
        check_port_free(settings.http_listen, "server.http_listen")?;
        let events = crate::events::Events::new();
        let certificates = match &settings.https {
            Some(https) => {
                check_port_free(https.listen, "server.https_listen")?;
                Some(Certificates::load(https, &home, events.clone()).map_err(StartError::Config)?)
            }
            None => None,
        };
        let app_ports = match &settings.app_ports {
            Some(range) => {
                let gateway = settings.https.as_ref().map_or(settings.http_listen, |https| https.listen);
                for port in range.clone() {
                    check_port_free(SocketAddr::new(gateway.ip(), port), "server.app_ports")?;
                }
                Some(AppPorts::load(home.app_ports_file(), range.clone()).map_err(StartError::Config)?)
            }
            None => None,
        };
        let (database, database_runtime) = Database::open(&settings.database_url).map_err(|error| {
            StartError::Unavailable(anyhow::anyhow!("{error} ({})", redact(&settings.database_url)))
        })?;
        let oauth_store = crate::oauth::OAuthStore::new(database.clone(), events.clone());
        let (audit, audit_entries) = crate::audit::Audit::new(database.clone(), settings.audit.clone());
        let auth = Auth::new(&settings, &home, database, events.clone()).map_err(StartError::Config)?;
        let access_tokens = crate::oauth::AccessTokens::new(auth.identity.key_material());
        let oauth = Arc::new(crate::oauth::OAuth::new(oauth_store, access_tokens, auth.clone()));
        if auth.is_open() {
            tracing::warn!(
                "no GitHub login configured: every request from this machine is allowed (local mode only; \
                 set GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET in .env and auth.allowed_users to require a login)"
            );
        }
        let api_listener = api::bind_socket(&home.api_socket())
            .with_context(|| format!("binding the API socket {}", home.api_socket().display()))?;

        let routes: RouteHandle = Arc::new(ArcSwap::from_pointee(RouteTable::new(core_routes(&home))));
        let (trigger, listener) = drain();

        let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
        let conf = ServerConf {
            threads,
            grace_period_seconds: Some(GRACE_PERIOD_SECONDS),
            graceful_shutdown_timeout_seconds: Some(RUNTIME_SHUTDOWN_SECONDS),
            fast_timeout_to_tokio_threshold_seconds: Some(FAST_TIMER_MAX_SECONDS),
            ..ServerConf::default()
        };
        let mut server = Server::new_with_opt_and_conf(None, conf);
        server.bootstrap();

        let site = match &settings.https {
            Some(https) => Site::new(&settings.public_url, https.listen, "https", app_ports),
            None => Site::new(&settings.public_url, settings.http_listen, "http", app_ports),
        };
        let https = certificates.as_ref().map(|certificates| gateway::Https {
            origin: certificates.settings().origin(),
            certificates: certificates.clone(),
        });
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let gateway =
            gateway::Gateway::new(routes.clone(), auth.clone(), site.clone(), https).with_metrics(metrics.clone());
        server.add_service(gateway::proxy_service(&server.configuration, gateway, settings.http_listen));
        let tools = ToolRegistry::new(settings.mcp.clone());
        let external_services =
            crate::external::ExternalServices::new(settings.external_services.clone(), &home, events.clone());

        let core = CoreService {
            startup: Mutex::new(Some(CoreStartup {
                api_listener,
                drain: listener,
                deployment_mode: settings.deployment_mode,
                certificates,
                auth,
                oauth,
                site,
                metrics,
                audit,
                audit_entries,
                github_api_url: settings.extensions_github_api_url.clone(),
                llm: Arc::new(crate::agent::llm::Llm::new(settings.agent.clone())),
                doctor,
                store,
                tree: TreeArgs {
                    home,
                    http_listen: settings.http_listen,
                    routes,
                    settings: Arc::new(settings.supervisor),
                    master,
                    secrets: crate::env_file::SharedSecrets::new(settings.secrets),
                    tools,
                    external_services,
                    events: events.clone(),
                },
            })),
            trigger: trigger.clone(),
        };
        server.add_service(background_service("luna core", core));
        Ok(Self { server, trigger, database: database_runtime })
    }

    /// Runs until shutdown; returns once pingora's runtimes have exited.
    pub fn run(self) {
        self.server.run(RunArgs { shutdown_signal: Box::new(LunaSignals { trigger: self.trigger }) });
        drop(self.database);
    }
}

/// Publishes the tool registry's changes of the MCP-visible tool set on the change feed.
async fn forward_tool_changes(mut changes: tokio::sync::watch::Receiver<u64>, events: crate::events::Events) {
    while changes.changed().await.is_ok() {
        events.publish(crate::events::Topic::Tools);
    }
}

/// Generates `MCP_AUTH_TOKEN` and `LUNA_METRICS_TOKEN` into `.env` on first start (`luna token`
/// and `luna token --metrics` show them).
fn ensure_tokens(settings: &mut Settings) -> Result<(), StartError> {
    let path = settings.home.env_file();
    for key in ["MCP_AUTH_TOKEN", crate::api::METRICS_TOKEN, crate::agent::AGENT_API_KEY] {
        if settings.secrets.get(key).is_some_and(|token| !token.is_empty()) {
            continue;
        }
        let token = new_token(key);
        crate::env_file::edit(&path, &[(key, Some(&token))])
            .with_context(|| format!("writing {key} to {}", path.display()))?;
        tracing::info!(file = %path.display(), "generated {key}");
        settings.secrets =
            crate::env_file::EnvFile::load(&path).map_err(|error| StartError::Config(error.to_string()))?;
    }
    Ok(())
}

/// A fresh value for token `key`: the Agent API's key looks like OpenAI's (`sk-luna-…`), which
/// some clients check for.
pub fn new_token(key: &str) -> String {
    let token = crate::auth::random_token();
    if key == crate::agent::AGENT_API_KEY { format!("sk-luna-{token}") } else { token }
}

/// Ends the sessions and revokes the OAuth grants of users the current settings no longer
/// admit: someone taken off the allow-list, or the local owner once GitHub login is on. Every
/// use checks again; this makes the change visible at once (`luna clients list`, the Hub).
async fn end_what_is_no_longer_admitted(auth: &Auth, oauth: &crate::oauth::OAuth) {
    match auth.end_unadmitted_sessions().await {
        Ok(0) => {}
        Ok(ended) => tracing::warn!(ended, "ended the sessions of users the allow-list no longer admits"),
        Err(error) => tracing::error!(%error, "could not end the sessions of users no longer admitted"),
    }
    match oauth.revoke_unadmitted_grants().await {
        Ok(0) => {}
        Ok(revoked) => tracing::warn!(revoked, "disconnected the MCP clients of users no longer admitted"),
        Err(error) => tracing::error!(%error, "could not revoke the grants of users no longer admitted"),
    }
}

/// Deletes expired OAuth codes and tokens and stale client registrations, now and hourly.
async fn clean_up_oauth(oauth: Arc<crate::oauth::OAuth>) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        if let Err(error) = oauth.store.clean_up().await {
            tracing::warn!(%error, "OAuth clean-up failed; it runs again in an hour");
        }
    }
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

fn check_port_free(address: SocketAddr, setting: &str) -> anyhow::Result<()> {
    std::net::TcpListener::bind(address)
        .map(drop)
        .with_context(|| format!("the gateway cannot listen on {address} ({setting})"))
}

/// Why `luna serve` could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration or state file is invalid (exit 64).
    #[error("{0}")]
    Config(String),
    /// Something outside Luna is in the way: a port, the socket, the disk (exit 69).
    #[error("{0:#}")]
    Unavailable(#[from] anyhow::Error),
}

/// Everything the core service takes when it starts (once).
struct CoreStartup {
    api_listener: std::os::unix::net::UnixListener,
    drain: DrainListener,
    deployment_mode: crate::settings::DeploymentMode,
    certificates: Option<Arc<Certificates>>,
    auth: Arc<Auth>,
    oauth: Arc<crate::oauth::OAuth>,
    site: Site,
    metrics: Arc<crate::metrics::Metrics>,
    audit: Arc<crate::audit::Audit>,
    audit_entries: tokio::sync::mpsc::Receiver<crate::audit::AuditEntry>,
    /// GitHub's API, for extensions installed from GitHub.
    github_api_url: String,
    llm: Arc<crate::agent::llm::Llm>,
    doctor: Arc<crate::doctor::Doctor>,
    store: Arc<crate::store::Store>,
    tree: TreeArgs,
}

/// The pingora background service that runs the actor tree and the core API.
struct CoreService {
    startup: Mutex<Option<CoreStartup>>,
    trigger: DrainTrigger,
}

#[async_trait]
impl BackgroundService for CoreService {
    async fn start(&self, mut pingora_shutdown: ShutdownWatch) {
        let Some(startup) = self.startup.lock().ok().and_then(|mut slot| slot.take()) else {
            return;
        };
        let CoreStartup {
            api_listener,
            mut drain,
            deployment_mode,
            certificates,
            auth,
            oauth,
            site,
            metrics,
            audit,
            audit_entries,
            github_api_url,
            llm,
            doctor,
            store,
            tree,
        } = startup;
        let secrets = tree.secrets.clone();
        // A new version gets its readiness time, and a little for the tool host's handshake.
        let settle_timeout = tree.settings.readiness_timeout + std::time::Duration::from_secs(10);
        let tools = tree.tools.clone();
        let events = tree.events.clone();
        let external_services = tree.external_services.clone();
        let socket_path = tree.home.api_socket();
        let tree_home = tree.home.clone();
        let http_listen = tree.http_listen;
        let routes = tree.routes.clone();

        let supervisor = match Supervisor::start(tree).await {
            Ok(started) => started,
            Err(error) => {
                tracing::error!(%error, "the actor tree failed to start; shutting down");
                self.trigger.request();
                drain.finished();
                return;
            }
        };

        let api_listener = match tokio::net::UnixListener::from_std(api_listener) {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, "cannot serve the API socket; shutting down");
                self.trigger.request();
                drain.finished();
                return;
            }
        };
        let https = certificates.as_ref().map(|certificates| {
            let https = certificates.settings();
            format!("{} on {}", https.origin(), https.listen)
        });
        let background = crate::background::BackgroundTasks::default();
        if let Some(certificates) = &certificates {
            let app_routes = site.app_ports().is_none().then_some(routes);
            crate::tls::manager::spawn(certificates.clone(), tree_home.certs_dir(), app_routes, &background);
        }
        let packages = crate::packages::Packages::new(
            tree_home.clone(),
            &github_api_url,
            secrets.clone(),
            supervisor.clone(),
            events.clone(),
            settle_timeout,
        );
        let state = Luna {
            supervisor: supervisor.clone(),
            packages,
            secrets,
            keys_lock: Arc::default(),
            home: tree_home.clone(),
            shutdown: self.trigger.clone(),
            deployment_mode,
            certificates,
            auth,
            started: Instant::now(),
            started_at: SystemTime::now(),
            tools,
            external_services,
            events,
            oauth: oauth.clone(),
            site,
            metrics,
            audit: audit.clone(),
            mcp_sessions: Arc::default(),
            mcp_shutdown: tokio_util::sync::CancellationToken::new(),
            llm,
            doctor,
            store,
        };
        background
            .spawn("audit writer", crate::audit::write_entries(audit.clone(), audit_entries, state.events.clone()));
        background.spawn("audit retention", crate::audit::apply_retention(audit));
        end_what_is_no_longer_admitted(&state.auth, &oauth).await;
        background.spawn("OAuth clean-up", clean_up_oauth(oauth));
        background.spawn("update queue resume", state.packages.clone().resume_interrupted_apply());
        background.spawn("Docker events", state.external_services.clone().watch_docker());
        background.spawn("tool list changes", forward_tool_changes(state.tools.subscribe(), state.events.clone()));
        let mcp_shutdown = state.mcp_shutdown.clone();
        let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
        let api = api::app(state);
        crate::sys::release_free_heap();
        let api_task = tokio::spawn(api::serve(api_listener, api, async {
            let _ = api_stopped.await;
        }));
        let https = https.as_deref().unwrap_or("none");
        tracing::info!(listen = %http_listen, https, mode = deployment_mode.as_str(), "luna is serving");
        if crate::systemd::is_supervising() {
            let probes = crate::systemd::Probes { gateway: http_listen, api_socket: socket_path.clone() };
            background.spawn("systemd notifications", crate::systemd::notify(probes));
        }

        tokio::select! {
            _ = drain.requested() => {}
            // pingora shutting down on its own (it should not, but then drain anyway).
            _ = pingora_shutdown.changed() => {}
        }
        crate::systemd::stopping();
        mcp_shutdown.cancel();
        background.stop(BACKGROUND_STOP_TIMEOUT).await;
        let _ = stop_api.send(());
        if tokio::time::timeout(API_DRAIN_TIMEOUT, api_task).await.is_err() {
            tracing::warn!("core API did not finish its requests in time");
        }
        supervisor.stop(crate::shutdown::DRAIN_TIMEOUT - API_DRAIN_TIMEOUT - BACKGROUND_STOP_TIMEOUT).await;
        if let Err(error) = std::fs::remove_file(&socket_path) {
            tracing::warn!(%error, path = %socket_path.display(), "could not remove the API socket");
        }
        tracing::info!("core stopped");
        drain.finished();
    }
}
