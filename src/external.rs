//! External services (SPEC §10): infrastructure such as PostgreSQL or Redis that runs in
//! Docker beside Luna and outlives it.
//!
//! [`ExternalServices`] is the shared handle every front-end uses (API, CLI through the API,
//! MCP admin tools): it reads definitions (`definition.rs`, `form.rs`), renders them into a
//! container (`spec.rs`, `template.rs`), drives Docker (`docker.rs`) and keeps
//! `.luna/external_services.json` (`registry.rs`). Operations on one service are serialised by
//! a per-service lock. The actor tree (`supervisor/external_services.rs`) runs one
//! `DockerService` actor per installed service for the 30-second health checks and publishes
//! the `/ext_service/<name>/` routes.

pub mod definition;
pub mod docker;
pub mod form;
mod install;
pub mod registry;
pub mod shell;
pub mod spec;
pub mod template;
mod views;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::home::LunaHome;
use crate::settings::ExternalServicesSettings;
use definition::{Definition, Entry, ShellDefinition, UiMode};
use docker::{ContainerState, Engine};
pub use install::InstallUpdate;
use registry::{Installed, Kind, Registry, Snapshot, Status};
use shell::{ShellService, Step};
use views::view_of;
pub use views::{Available, Details, InstallEvent, InstalledView, Uninstalled};

/// Luna's own HTTP probe of a service gives up after this.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// `start` and `restart` wait at most this long for the healthcheck's verdict.
const START_WAIT: Duration = Duration::from_secs(30);
/// How long the Docker events watch waits before it connects again.
const DOCKER_WATCH_RETRY: Duration = Duration::from_secs(10);
/// Lines of logs one request may ask for.
pub const MAX_LOG_LINES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("no external service named `{0}` (see `luna infra list`)")]
    NotFound(String),
    #[error("`{0}` is not installed")]
    NotInstalled(String),
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    DockerUnavailable(String),
    #[error("{0}")]
    Failed(String),
}

pub struct ExternalServices {
    settings: ExternalServicesSettings,
    home: LunaHome,
    definitions_dir: PathBuf,
    engine: tokio::sync::Mutex<Option<Engine>>,
    registry: Mutex<Registry>,
    /// Generation of the registry snapshot last written (see `registry::Snapshot`).
    written: Mutex<u64>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Ticks when the set of installed services (or their UI routes) changes.
    changes: watch::Sender<u64>,
    /// Told of every change of a service's record (the Hub's cards and banner).
    events: crate::events::Events,
    http: reqwest::Client,
}

impl ExternalServices {
    pub fn new(settings: ExternalServicesSettings, home: &LunaHome, events: crate::events::Events) -> Arc<Self> {
        Arc::new(Self {
            settings,
            home: home.clone(),
            definitions_dir: home.external_services_dir(),
            engine: tokio::sync::Mutex::new(None),
            registry: Mutex::new(Registry::load(&home.external_services_registry())),
            written: Mutex::new(0),
            locks: Mutex::new(HashMap::new()),
            changes: watch::channel(0).0,
            events,
            http: reqwest::Client::builder()
                .timeout(PROBE_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        })
    }

    pub fn settings(&self) -> &ExternalServicesSettings {
        &self.settings
    }

    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The engine, connecting on first use (and again after a failure).
    pub async fn engine(&self) -> Result<Engine, ExternalError> {
        let mut slot = self.engine.lock().await;
        if let Some(engine) = slot.as_ref() {
            return Ok(engine.clone());
        }
        let engine = Engine::connect(&self.settings).await.map_err(ExternalError::DockerUnavailable)?;
        tracing::info!(version = %engine.version, "connected to Docker");
        *slot = Some(engine.clone());
        self.events.publish(crate::events::Topic::ExternalServices);
        Ok(engine)
    }

    fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(name.to_string()).or_default().clone()
    }

    fn entry(&self, name: &str) -> Result<Entry, ExternalError> {
        if !definition::is_service_name(name) {
            return Err(ExternalError::NotFound(name.to_string()));
        }
        definition::find(&self.definitions_dir, name).ok_or_else(|| ExternalError::NotFound(name.to_string()))
    }

    fn installed_record(&self, name: &str) -> Result<Installed, ExternalError> {
        self.registry().services.get(name).cloned().ok_or_else(|| ExternalError::NotInstalled(name.to_string()))
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update_registry(&self, change: impl FnOnce(&mut Registry)) -> Result<(), ExternalError> {
        let snapshot = {
            let mut registry = self.registry();
            change(&mut registry);
            registry.snapshot()
        };
        self.persist(snapshot.map_err(ExternalError::Failed)?)
    }

    /// Writes `snapshot` unless a newer one is on disk already; one writer at a time.
    fn persist(&self, snapshot: Snapshot) -> Result<(), ExternalError> {
        let mut written = self.written.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if snapshot.generation > *written {
            snapshot.write().map_err(ExternalError::Failed)?;
            *written = snapshot.generation;
            self.events.publish(crate::events::Topic::ExternalServices);
        }
        Ok(())
    }

    pub fn installed_names(&self) -> Vec<String> {
        self.registry().services.keys().cloned().collect()
    }

    /// UI routes of the installed services: (name, host port, mode).
    pub fn ui_routes(&self) -> Vec<(String, u16, UiMode)> {
        let registry = self.registry();
        registry
            .services
            .iter()
            .filter_map(|(name, record)| record.ui.map(|(port, mode)| (name.clone(), port, mode)))
            .collect()
    }

    pub fn available(&self) -> Vec<Available> {
        let statuses: HashMap<String, Status> =
            self.registry().services.iter().map(|(name, record)| (name.clone(), record.status)).collect();
        definition::discover(&self.definitions_dir)
            .into_iter()
            .map(|entry| {
                let status = statuses.get(&entry.name).copied();
                let (display_name, description, category, kind, has_ui, problem) = match &entry.loaded {
                    Ok((definition, _)) => (
                        definition.display_name(),
                        definition.description().to_string(),
                        definition.category().to_string(),
                        definition.kind().to_string(),
                        matches!(definition, Definition::Docker(docker) if docker.ui.is_some()),
                        self.unusable(definition),
                    ),
                    Err(problem) => {
                        (entry.name.clone(), String::new(), String::new(), String::new(), false, Some(problem.clone()))
                    }
                };
                Available {
                    name: entry.name.clone(),
                    display_name,
                    description,
                    category,
                    kind,
                    installed: status.is_some(),
                    status,
                    has_ui,
                    problem,
                }
            })
            .collect()
    }

    /// Why a parsed definition cannot be installed here.
    fn unusable(&self, definition: &Definition) -> Option<String> {
        match definition {
            Definition::Shell(_) if !self.settings.allow_shell => Some(
                "UNSAFE: a `shell` definition runs arbitrary commands as Luna's user; it is off (set \
                 external_services.allow_shell = true to run it, or port it to kind \"docker\")"
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// Where a shell service's commands run and log.
    fn shell<'a>(&self, name: &str, definition: &'a ShellDefinition) -> ShellService<'a> {
        ShellService {
            definition,
            home: self.home.root().to_path_buf(),
            config_file: self.definitions_dir.join(name).join("config.json"),
            log_file: self.home.logs_dir().join(format!("{name}.log")),
        }
    }

    /// How installed service `name` runs, resolved once per operation (a shell service's
    /// definition must still be usable, and the unsafe adapter allowed).
    fn backend(&self, name: &str, record: &Installed) -> Result<Backend, ExternalError> {
        match record.kind {
            Kind::Docker => Ok(Backend::Docker { container: record.container.clone() }),
            Kind::Shell => Ok(Backend::Shell(Box::new(self.shell_definition(name)?))),
        }
    }

    /// The shell definition of an installed shell service (it must still be usable).
    fn shell_definition(&self, name: &str) -> Result<ShellDefinition, ExternalError> {
        match self.entry(name)?.loaded {
            Ok((Definition::Shell(shell), _)) if self.settings.allow_shell => Ok(shell),
            Ok((definition, _)) => Err(ExternalError::Conflict(
                self.unusable(&definition).unwrap_or_else(|| format!("`{name}` is no longer a shell definition")),
            )),
            Err(problem) => Err(ExternalError::Conflict(problem)),
        }
    }

    /// Every installed service; the definitions are read once for the whole listing.
    pub fn installed(&self, reveal: bool) -> BTreeMap<String, InstalledView> {
        let definitions: HashMap<String, Entry> =
            definition::discover(&self.definitions_dir).into_iter().map(|entry| (entry.name.clone(), entry)).collect();
        let records = self.registry().services.clone();
        records
            .into_iter()
            .map(|(name, record)| {
                let loaded = definitions.get(&name).and_then(|entry| entry.loaded.as_ref().ok());
                let view = view_of(&name, record, loaded, reveal);
                (name, view)
            })
            .collect()
    }

    fn view(&self, name: &str, reveal: bool) -> Result<InstalledView, ExternalError> {
        let record = self.installed_record(name)?;
        let loaded = self.entry(name).ok().and_then(|entry| entry.loaded.ok());
        Ok(view_of(name, record, loaded.as_ref(), reveal))
    }

    pub fn details(&self, name: &str, reveal: bool) -> Result<Details, ExternalError> {
        let entry = self.entry(name)?;
        let installed =
            self.installed_record(name).ok().map(|record| view_of(name, record, entry.loaded.as_ref().ok(), reveal));
        let (definition, form, problem, kind, data_volumes) = match &entry.loaded {
            Ok((definition, form)) => {
                let volumes = match definition {
                    Definition::Docker(docker) => {
                        docker.volumes.iter().map(|volume| spec::volume_name(name, &volume.name)).collect()
                    }
                    Definition::Shell(_) => Vec::new(),
                };
                (
                    serde_json::to_value(definition).ok(),
                    Some(form.clone()),
                    self.unusable(definition),
                    definition.kind().to_string(),
                    volumes,
                )
            }
            Err(problem) => (None, None, Some(problem.clone()), String::new(), Vec::new()),
        };
        let data_volumes = installed.as_ref().map_or(data_volumes, |view| view.volumes.clone());
        Ok(Details { name: name.to_string(), kind, definition, form, problem, installed, data_volumes })
    }

    /// Starts the service and waits (at most [`START_WAIT`]) until its health is known.
    pub async fn start(&self, name: &str) -> Result<InstalledView, ExternalError> {
        self.operate(name, Action::Start).await
    }

    pub async fn stop(&self, name: &str) -> Result<InstalledView, ExternalError> {
        self.operate(name, Action::Stop).await
    }

    pub async fn restart(&self, name: &str) -> Result<InstalledView, ExternalError> {
        self.operate(name, Action::Restart).await
    }

    /// Auto-start on or off: a Docker container's restart policy, changed in place.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<InstalledView, ExternalError> {
        self.operate(name, if enabled { Action::Enable } else { Action::Disable }).await?;
        self.update_registry(|registry| {
            if let Some(record) = registry.services.get_mut(name) {
                record.enabled = enabled;
            }
        })?;
        self.view(name, false)
    }

    async fn operate(&self, name: &str, action: Action) -> Result<InstalledView, ExternalError> {
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        let record = self.installed_record(name)?;
        let outcome = match self.backend(name, &record)? {
            Backend::Shell(definition) => {
                let step = action.shell_step();
                match self.shell(name, &definition).run(step).await {
                    Ok(true) => Ok(()),
                    Ok(false) => {
                        Err(ExternalError::Conflict(format!("the definition of `{name}` has no command for {step:?}")))
                    }
                    Err(reason) => Err(ExternalError::Failed(reason)),
                }
            }
            Backend::Docker { container } => {
                let engine = self.engine().await?;
                match action {
                    Action::Start => engine.start(&container).await,
                    Action::Stop => engine.stop(&container).await,
                    Action::Restart => engine.restart(&container).await,
                    Action::Enable => engine.set_auto_start(&container, true).await,
                    Action::Disable => engine.set_auto_start(&container, false).await,
                }
                .map_err(ExternalError::Failed)
            }
        };
        let wait_for_health = matches!(action, Action::Start | Action::Restart) && outcome.is_ok();
        let deadline = tokio::time::Instant::now() + START_WAIT;
        loop {
            let status = self.record_check(name).await;
            if !wait_for_health || status != Status::Unknown || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(docker::HEALTH_POLL).await;
        }
        outcome?;
        self.view(name, false)
    }

    /// Checks one service now and records the result (the health loop and every operation).
    pub async fn check(&self, name: &str) {
        let lock = self.lock_for(name);
        let Ok(_guard) = lock.try_lock() else {
            return; // an operation is running; it records the status itself
        };
        self.record_check(name).await;
    }

    /// Follows Docker's events for Luna's containers and checks a service as soon as its
    /// container changed state, so one stopped or removed by hand shows within a second, not
    /// at the next periodic check. Runs until cancelled, reconnecting when the engine is gone.
    pub async fn watch_docker(self: Arc<Self>) {
        loop {
            if let Ok(engine) = self.engine().await {
                let mut changes = std::pin::pin!(engine.state_changes());
                while let Some(name) = futures_util::StreamExt::next(&mut changes).await {
                    if self.installed_record(&name).is_ok() {
                        self.check(&name).await;
                    }
                }
            }
            tokio::time::sleep(DOCKER_WATCH_RETRY).await;
        }
    }

    async fn record_check(&self, name: &str) -> Status {
        let Ok(record) = self.installed_record(name) else { return Status::Unknown };
        let assessment = match self.backend(name, &record) {
            Err(error) => Assessment::unknown(error.to_string()),
            Ok(Backend::Shell(definition)) => self.shell(name, &definition).health().await,
            Ok(Backend::Docker { container }) => {
                let probe = match self.entry(name).ok().and_then(|entry| entry.loaded.ok()) {
                    Some((Definition::Docker(docker), _)) => {
                        spec::render(&docker, &record.config).ok().and_then(|spec| spec.probe)
                    }
                    _ => None,
                };
                match self.engine().await {
                    Ok(engine) => self.assess(&engine, &container, probe.as_ref()).await,
                    Err(error) => Assessment::unknown(error.to_string()),
                }
            }
        };
        let status = assessment.status;
        self.record(name, assessment);
        status
    }

    fn record(&self, name: &str, Assessment { status, detail }: Assessment) {
        let snapshot = {
            let mut registry = self.registry();
            let Some(record) = registry.services.get_mut(name) else { return };
            let changed = record.status != status || record.status_detail != detail;
            record.status = status;
            record.status_detail = detail;
            record.last_health_check = Some(OffsetDateTime::now_utc());
            if !changed {
                return;
            }
            tracing::info!(service = name, ?status, "external service status changed");
            registry.snapshot()
        };
        if let Err(error) = snapshot.map_err(ExternalError::Failed).and_then(|snapshot| self.persist(snapshot)) {
            tracing::warn!(%error, "could not save the external services registry");
        }
    }

    /// Docker's view (running, healthcheck) plus Luna's probe when the definition has one.
    async fn assess(&self, engine: &Engine, container: &str, probe: Option<&(u16, String)>) -> Assessment {
        let state = match engine.inspect(container).await {
            Ok(Some(state)) => state,
            Ok(None) => {
                return Assessment::unknown(format!("container {container} does not exist (removed outside Luna?)"));
            }
            Err(error) => return Assessment::unknown(error),
        };
        let ContainerState { running, health, .. } = state;
        if !running {
            return Assessment { status: Status::Stopped, detail: None };
        }
        match health.as_deref() {
            Some("unhealthy") => return Assessment::unhealthy("Docker's healthcheck fails".into()),
            Some("starting") => return Assessment::unknown("the healthcheck has not passed yet".into()),
            _ => {}
        }
        if let Some((port, path)) = probe {
            let url = format!("http://127.0.0.1:{port}{path}");
            match self.http.get(&url).send().await {
                Ok(response) if response.status().is_success() || response.status().is_redirection() => {}
                Ok(response) => return Assessment::unhealthy(format!("{url} answered {}", response.status())),
                Err(error) => return Assessment::unhealthy(format!("{url}: {error}")),
            }
        }
        Assessment { status: Status::Running, detail: None }
    }

    pub async fn logs(&self, name: &str, lines: usize) -> Result<Vec<String>, ExternalError> {
        let record = self.installed_record(name)?;
        if record.kind == Kind::Shell {
            let file = self.home.logs_dir().join(format!("{name}.log"));
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines.min(MAX_LOG_LINES));
            return Ok(all[start..].iter().map(|line| line.to_string()).collect());
        }
        let engine = self.engine().await?;
        engine.logs(&record.container, lines.min(MAX_LOG_LINES)).await.map_err(ExternalError::Failed)
    }

    pub async fn follow(
        &self,
        name: &str,
    ) -> Result<impl futures_util::Stream<Item = String> + Send + use<>, ExternalError> {
        let record = self.installed_record(name)?;
        let engine = self.engine().await?;
        Ok(engine.follow(&record.container))
    }

    /// Stops and removes the container; with `remove_data` also its volumes.
    pub async fn uninstall(&self, name: &str, remove_data: bool) -> Result<Uninstalled, ExternalError> {
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        let record = self.installed_record(name)?;
        if let Backend::Shell(definition) = self.backend(name, &record)? {
            let service = self.shell(name, &definition);
            if let Err(reason) = service.run(Step::Stop).await {
                tracing::warn!(%reason, service = name, "stop before uninstall failed");
            }
            service.run(Step::Uninstall).await.map_err(ExternalError::Failed)?;
            let _ = std::fs::remove_file(&service.config_file);
            self.update_registry(|registry| {
                registry.services.remove(name);
            })?;
            self.changes.send_modify(|tick| *tick += 1);
            return Ok(Uninstalled {
                name: name.to_string(),
                removed_container: String::new(),
                removed_volumes: Vec::new(),
                kept_volumes: Vec::new(),
            });
        }
        let engine = self.engine().await?;
        let to_remove: &[String] = if remove_data { &record.volumes } else { &[] };
        let removed_volumes = engine.remove(&record.container, to_remove).await.map_err(ExternalError::Failed)?;
        let kept_volumes = if remove_data { Vec::new() } else { engine.existing_volumes(&record.volumes).await };
        self.update_registry(|registry| {
            registry.services.remove(name);
        })?;
        self.changes.send_modify(|tick| *tick += 1);
        tracing::info!(service = name, ?removed_volumes, ?kept_volumes, "external service uninstalled");
        Ok(Uninstalled { name: name.to_string(), removed_container: record.container, removed_volumes, kept_volumes })
    }

    /// At start: every installed service's container is looked at (never started or stopped);
    /// containers with Luna's label that no installed service claims are reported, not touched.
    pub async fn reconcile(&self) {
        let engine = match self.engine().await {
            Ok(engine) => engine,
            Err(error) => {
                tracing::warn!(%error, "Docker is not reachable; external services show as unknown");
                for name in self.installed_names() {
                    self.record(&name, Assessment::unknown(error.to_string()));
                }
                return;
            }
        };
        let installed = self.installed_names();
        match engine.managed_containers().await {
            Ok(containers) => {
                for (container, service) in containers {
                    if !installed.contains(&service) {
                        tracing::warn!(%container, %service, "a container with Luna's label that no installed service claims; left alone");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "listing Luna's containers"),
        }
        for name in installed {
            self.record_check(&name).await;
        }
    }

    /// Writes an uploaded definition to `external_services/<name>/` after checking it the way
    /// discovery will (a definition that would be listed as broken is refused).
    pub fn upload(&self, name: &str, service: &Value, form: Option<&Value>) -> Result<Available, ExternalError> {
        if !definition::is_service_name(name) {
            return Err(ExternalError::Invalid(vec![format!(
                "name: `{name}` must be lower-case letters, digits and `-`"
            )]));
        }
        if self.registry().services.contains_key(name) {
            return Err(ExternalError::Conflict(format!(
                "`{name}` is installed; uninstall it before replacing its definition"
            )));
        }
        let failed = |error: std::io::Error| ExternalError::Failed(error.to_string());
        // Checked in a staging folder beside the definitions, exactly as discovery reads it.
        let staging = self.definitions_dir.join(".upload");
        let _ = std::fs::remove_dir_all(&staging);
        let folder = staging.join(name);
        std::fs::create_dir_all(&folder).map_err(failed)?;
        let mut files = vec![("service.json", service)];
        files.extend(form.map(|form| ("config-form.json", form)));
        let checked = (|| {
            for (file, value) in &files {
                let mut bytes =
                    serde_json::to_vec_pretty(value).map_err(|error| ExternalError::Failed(error.to_string()))?;
                bytes.push(b'\n');
                std::fs::write(folder.join(file), bytes).map_err(failed)?;
            }
            match definition::discover(&staging).into_iter().next().map(|entry| entry.loaded) {
                Some(Ok(_)) => Ok(()),
                Some(Err(problem)) => {
                    Err(ExternalError::Invalid(vec![problem.replace(&staging.display().to_string(), "upload")]))
                }
                None => Err(ExternalError::Invalid(vec!["service.json: missing".into()])),
            }
        })();
        if checked.is_ok() {
            let target = self.definitions_dir.join(name);
            std::fs::create_dir_all(&target).map_err(failed)?;
            for (file, _) in &files {
                let bytes = std::fs::read(folder.join(file)).map_err(failed)?;
                crate::state_file::write_atomic(&target.join(file), &bytes, 0o644).map_err(failed)?;
            }
        }
        let _ = std::fs::remove_dir_all(&staging);
        checked?;
        self.available()
            .into_iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| ExternalError::NotFound(name.to_string()))
    }

    /// The `external_services` line of `luna status`.
    pub async fn summary(&self) -> Summary {
        let services: Vec<(String, Status)> =
            self.registry().services.iter().map(|(name, record)| (name.clone(), record.status)).collect();
        let engine = self.engine.lock().await.as_ref().map(|engine| engine.version.clone());
        let running = services.iter().filter(|(_, status)| *status == Status::Running).count();
        let troubled: Vec<&str> = services
            .iter()
            .filter(|(_, status)| matches!(status, Status::Unhealthy | Status::Unknown))
            .map(|(name, _)| name.as_str())
            .collect();
        let mut detail = format!("{} installed, {running} running", services.len());
        if !troubled.is_empty() {
            detail.push_str(&format!("; needs attention: {}", troubled.join(", ")));
        }
        let docker_connected = engine.is_some();
        detail.push_str(&format!("; Docker {}", engine.unwrap_or_else(|| "not connected".into())));
        Summary { needs_attention: !troubled.is_empty(), docker_connected, detail }
    }
}

/// How an installed service runs, for one operation.
enum Backend {
    Docker { container: String },
    Shell(Box<ShellDefinition>),
}

/// How the installed services are doing, in one line.
pub struct Summary {
    /// A service is unhealthy or its state is unknown.
    pub needs_attention: bool,
    /// Luna reached the Docker engine (the last time it tried).
    pub docker_connected: bool,
    pub detail: String,
}

/// What a health check found.
pub struct Assessment {
    pub status: Status,
    /// Why, when it is not `running`.
    pub detail: Option<String>,
}

impl Assessment {
    pub fn unknown(detail: String) -> Self {
        Self { status: Status::Unknown, detail: Some(detail) }
    }

    pub fn unhealthy(detail: String) -> Self {
        Self { status: Status::Unhealthy, detail: Some(detail) }
    }
}

/// An operation on an installed service, for both kinds.
#[derive(Debug, Clone, Copy)]
enum Action {
    Start,
    Stop,
    Restart,
    Enable,
    Disable,
}

impl Action {
    fn shell_step(self) -> Step {
        match self {
            Action::Start => Step::Start,
            Action::Stop => Step::Stop,
            Action::Restart => Step::Restart,
            Action::Enable => Step::EnableStartup,
            Action::Disable => Step::DisableStartup,
        }
    }
}
