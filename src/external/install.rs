//! Installing a service: the one operation that creates things, and undoes them on failure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::definition::{Definition, ShellDefinition};
use super::registry::{Installed, Kind, Status};
use super::shell::Step;
use super::{ExternalError, ExternalServices, InstallEvent, InstalledView, docker, spec};

/// What an install in the background tells whoever follows it: progress, then the end.
pub enum InstallUpdate {
    Progress(InstallEvent),
    Done(Result<InstalledView, ExternalError>),
}

impl ExternalServices {
    /// [`install`](Self::install) in a task of its own (it finishes even if nobody follows
    /// any more); its progress and outcome come on the returned channel.
    pub fn install_in_background(
        self: &std::sync::Arc<Self>,
        name: String,
        submitted: serde_json::Map<String, Value>,
    ) -> tokio::sync::mpsc::UnboundedReceiver<InstallUpdate> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let services = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            let progress = sender.clone();
            let outcome = services
                .install(&name, &submitted, move |event| {
                    let _ = progress.send(InstallUpdate::Progress(event));
                })
                .await;
            let _ = sender.send(InstallUpdate::Done(outcome));
        });
        receiver
    }

    /// Validates the form, pulls the image, creates and starts the container, waits until
    /// it is healthy. A failure before the container runs removes what was created.
    pub async fn install(
        &self,
        name: &str,
        submitted: &serde_json::Map<String, Value>,
        mut progress: impl FnMut(InstallEvent) + Send,
    ) -> Result<InstalledView, ExternalError> {
        let lock = self.lock_for(name);
        let _guard = lock.lock().await;
        let entry = self.entry(name)?;
        let (definition, form) = entry.loaded.map_err(ExternalError::Conflict)?;
        if let Some(reason) = self.unusable(&definition) {
            return Err(ExternalError::Conflict(reason));
        }
        if self.registry().services.contains_key(name) {
            return Err(ExternalError::Conflict(format!("`{name}` is already installed")));
        }
        if let Some(problem) = self.registry().problem() {
            return Err(ExternalError::Failed(problem.to_string()));
        }
        let values = form.validate(submitted).map_err(ExternalError::Invalid)?;
        let docker = match definition {
            Definition::Docker(docker) => docker,
            Definition::Shell(shell) => return self.install_shell(name, &shell, values, progress).await,
        };
        let spec = spec::render(&docker, &values).map_err(|problem| ExternalError::Invalid(vec![problem]))?;
        let ports = held_ports(&spec);
        self.check_ports(name, &ports)?;

        let engine = self.engine().await?;
        if let Some(existing) = engine.inspect(&spec.container).await.map_err(ExternalError::Failed)? {
            let owner =
                existing.labels.get(docker::LABEL_SERVICE).map_or("nobody (not created by Luna)", String::as_str);
            return Err(ExternalError::Conflict(format!(
                "a container named {} already exists (label dev.luna.service: {owner}); Luna does not touch it — \
                 remove or rename it first",
                spec.container
            )));
        }
        progress(InstallEvent::Step { message: format!("pulling {}", spec.image) });
        engine.pull(&spec.image, |step| progress(InstallEvent::Pull(step))).await.map_err(ExternalError::Failed)?;

        let volumes: Vec<String> = spec.volumes.iter().map(|(volume, _)| volume.clone()).collect();
        let kept_data = engine.existing_volumes(&volumes).await;
        progress(InstallEvent::Step { message: format!("creating {}", spec.container) });
        let started = async {
            engine.create(&spec, true).await?;
            progress(InstallEvent::Step { message: format!("starting {}", spec.container) });
            engine.start(&spec.container).await
        };
        if let Err(reason) = started.await {
            // Nothing half-made stays behind; data volumes that were there before stay.
            let new_volumes: Vec<String> = volumes.iter().filter(|v| !kept_data.contains(v)).cloned().collect();
            if let Err(cleanup) = engine.remove(&spec.container, &new_volumes).await {
                tracing::warn!(%cleanup, service = name, "cleaning up a failed install");
            }
            return Err(ExternalError::Failed(reason));
        }

        progress(InstallEvent::Step { message: "waiting until it is healthy".into() });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(docker.install_timeout_secs);
        let assessment = loop {
            let assessment = self.assess(&engine, &spec.container, spec.probe.as_ref()).await;
            let settled = matches!(assessment.status, Status::Running | Status::Stopped);
            if settled || tokio::time::Instant::now() >= deadline {
                break assessment;
            }
            tokio::time::sleep(docker::HEALTH_POLL).await;
        };
        let record = Installed {
            kind: Kind::Docker,
            installed_at: OffsetDateTime::now_utc(),
            enabled: true,
            container: spec.container.clone(),
            image: spec.image.clone(),
            spec_hash: spec.hash(),
            volumes,
            config: values,
            status: assessment.status,
            status_detail: assessment.detail,
            last_health_check: Some(OffsetDateTime::now_utc()),
            ui: spec.ui,
            ports,
        };
        self.update_registry(|registry| {
            registry.services.insert(name.to_string(), record);
        })?;
        self.changes.send_modify(|tick| *tick += 1);
        tracing::info!(service = name, status = ?assessment.status, "external service installed");
        self.view(name, false)
    }

    /// The unsafe path: the values go to `config.json`, then `install_cmd` runs.
    async fn install_shell(
        &self,
        name: &str,
        definition: &ShellDefinition,
        values: BTreeMap<String, Value>,
        mut progress: impl FnMut(InstallEvent) + Send,
    ) -> Result<InstalledView, ExternalError> {
        let service = self.shell(name, definition);
        let mut bytes = serde_json::to_vec_pretty(&values).map_err(|error| ExternalError::Failed(error.to_string()))?;
        bytes.push(b'\n');
        crate::state_file::write_atomic(&service.config_file, &bytes, 0o600)
            .map_err(|error| ExternalError::Failed(format!("{}: {error}", service.config_file.display())))?;
        progress(InstallEvent::Step { message: "running install_cmd (shell)".into() });
        service.run(Step::Install).await.map_err(ExternalError::Failed)?;
        let assessment = service.health().await;
        let record = Installed {
            kind: Kind::Shell,
            installed_at: OffsetDateTime::now_utc(),
            enabled: true,
            container: String::new(),
            image: String::new(),
            spec_hash: String::new(),
            volumes: Vec::new(),
            config: values,
            status: assessment.status,
            status_detail: assessment.detail,
            last_health_check: Some(OffsetDateTime::now_utc()),
            ui: None,
            ports: Vec::new(),
        };
        self.update_registry(|registry| {
            registry.services.insert(name.to_string(), record);
        })?;
        self.changes.send_modify(|tick| *tick += 1);
        tracing::warn!(service = name, "installed a shell (unsafe) external service");
        self.view(name, false)
    }

    /// Every port the service will hold must be free now and not held by another service.
    fn check_ports(&self, name: &str, ports: &[u16]) -> Result<(), ExternalError> {
        let registry = self.registry();
        for port in ports {
            if let Some((other, _)) =
                registry.services.iter().find(|(other, record)| *other != name && record.ports.contains(port))
            {
                return Err(ExternalError::Conflict(format!("port {port} belongs to the installed service `{other}`")));
            }
            if !crate::sys::port_is_free(*port) {
                let holder = crate::sys::describe_port_holder(*port);
                return Err(ExternalError::Conflict(format!("port {port} is in use by {holder}; choose another")));
            }
        }
        Ok(())
    }
}

/// Ports a rendered service holds on this machine.
fn held_ports(spec: &spec::ContainerSpec) -> Vec<u16> {
    let mut ports: Vec<u16> = spec.ports.iter().map(|(host, _)| *host).collect();
    ports.extend(spec.ui.map(|(port, _)| port));
    ports.extend(spec.probe.as_ref().map(|(port, _)| *port));
    ports.sort_unstable();
    ports.dedup();
    ports
}
