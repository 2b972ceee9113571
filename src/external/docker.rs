//! The Docker Engine through bollard: only what external services need, and every object
//! Luna creates carries its labels. Errors are sentences naming the object.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerUpdateBody, HealthConfig, HealthStatusEnum, HostConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, EventsOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptions,
    RestartContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::spec::ContainerSpec;
use crate::settings::ExternalServicesSettings;

pub const LABEL_MANAGED: &str = "dev.luna.managed";
pub const LABEL_SERVICE: &str = "dev.luna.service";
pub const LABEL_SPEC_HASH: &str = "dev.luna.spec-hash";
/// Seconds a container gets between SIGTERM and SIGKILL on stop and restart.
const STOP_GRACE_SECS: i32 = 10;
/// Docker API calls (not streams) give up after this.
const CALL_TIMEOUT_SECS: u64 = 60;

#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    /// `engine 20.10.24 (API 1.41)`, for status lines.
    pub version: String,
}

/// One step of an image pull, as the daemon reports it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PullProgress {
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

/// What inspecting a container says.
#[derive(Debug, Clone)]
pub struct ContainerState {
    pub id: String,
    pub running: bool,
    /// `healthy`, `unhealthy`, `starting`, or `None` without a healthcheck.
    pub health: Option<String>,
    /// Docker's restart policy name (`no`, `unless-stopped`, ...).
    pub restart_policy: String,
    pub labels: HashMap<String, String>,
}

/// Container events that change what a service's health check would find.
const STATE_EVENTS: [&str; 10] =
    ["start", "stop", "die", "kill", "destroy", "pause", "unpause", "restart", "oom", "health_status"];

impl Engine {
    /// The service names (label `dev.luna.service`) of Luna's containers as Docker reports a
    /// change of their state, from now on; ends when the connection to the engine does.
    pub fn state_changes(&self) -> impl Stream<Item = String> + use<> {
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("label", vec![format!("{LABEL_MANAGED}=true")]),
            ("event", STATE_EVENTS.iter().map(|event| event.to_string()).collect()),
        ]);
        let options = EventsOptionsBuilder::new().filters(&filters).build();
        self.docker
            .events(Some(options))
            .take_while(|event| futures_util::future::ready(event.is_ok()))
            .filter_map(|event| async move { event.ok()?.actor?.attributes?.remove(LABEL_SERVICE) })
    }

    /// Connects to `settings.docker_host` (`unix://` path) or the default socket and agrees on
    /// an API version (engines as old as 20.10 / API 1.41 are fine).
    pub async fn connect(settings: &ExternalServicesSettings) -> Result<Self, String> {
        let socket = settings.docker_host.trim_start_matches("unix://");
        let docker = Docker::connect_with_unix(socket, CALL_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            .map_err(|error| format!("Docker at {}: {error}", settings.docker_host))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|error| format!("the Docker engine at {} does not answer: {error}", settings.docker_host))?;
        let version = docker.version().await.map_err(|error| format!("Docker version: {error}"))?;
        let version =
            format!("engine {} (API {})", version.version.unwrap_or_default(), version.api_version.unwrap_or_default());
        Ok(Self { docker, version })
    }

    /// Pulls `image`, reporting every progress item; a registry error names the image.
    pub async fn pull(&self, image: &str, mut progress: impl FnMut(PullProgress)) -> Result<(), String> {
        let (repository, tag) = split_image(image);
        let options = CreateImageOptionsBuilder::new().from_image(repository).tag(tag).build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| format!("pulling {image}: {}", describe(&error)))?;
            progress(PullProgress {
                layer: info.id,
                status: info.status.unwrap_or_default(),
                current: info.progress_detail.as_ref().and_then(|detail| detail.current),
                total: info.progress_detail.as_ref().and_then(|detail| detail.total),
            });
        }
        Ok(())
    }

    /// Creates the volumes (when missing) and the container, labelled; does not start it.
    pub async fn create(&self, spec: &ContainerSpec, restart: bool) -> Result<String, String> {
        let labels = labels(&spec.service, Some(&spec.hash()));
        for (volume, _) in &spec.volumes {
            let request =
                VolumeCreateRequest { name: Some(volume.clone()), labels: Some(labels.clone()), ..Default::default() };
            self.docker
                .create_volume(request)
                .await
                .map_err(|error| format!("volume {volume}: {}", describe(&error)))?;
        }
        let port_bindings = (spec.network == super::definition::Network::Bridge).then(|| {
            spec.ports
                .iter()
                .map(|(host, container)| {
                    let binding = PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(host.to_string()) };
                    (format!("{container}/tcp"), Some(vec![binding]))
                })
                .collect::<HashMap<_, _>>()
        });
        let exposed_ports = port_bindings.as_ref().map(|bindings| bindings.keys().cloned().collect::<Vec<_>>());
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            env: Some(spec.env.clone()),
            labels: Some(labels),
            exposed_ports,
            healthcheck: spec.healthcheck.as_ref().map(|check| HealthConfig {
                test: Some(check.test.clone()),
                interval: Some(check.interval_ns),
                timeout: Some(check.timeout_ns),
                retries: Some(check.retries),
                start_period: Some(check.start_period_ns),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some(match spec.network {
                    super::definition::Network::Bridge => "bridge".into(),
                    super::definition::Network::Host => "host".into(),
                }),
                port_bindings,
                binds: Some(spec.volumes.iter().map(|(volume, target)| format!("{volume}:{target}")).collect()),
                restart_policy: Some(restart_policy(restart)),
                // A real init as PID 1: signals reach the service, zombies are reaped.
                init: Some(true),
                memory: spec.memory_bytes,
                nano_cpus: spec.nano_cpus,
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&spec.container).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|error| format!("creating {}: {}", spec.container, describe(&error)))?;
        Ok(created.id)
    }

    pub async fn start(&self, container: &str) -> Result<(), String> {
        self.docker
            .start_container(container, None::<StartContainerOptions>)
            .await
            .map_err(|error| format!("starting {container}: {}", describe(&error)))
    }

    pub async fn stop(&self, container: &str) -> Result<(), String> {
        let options = StopContainerOptionsBuilder::new().t(STOP_GRACE_SECS).build();
        self.docker
            .stop_container(container, Some(options))
            .await
            .map_err(|error| format!("stopping {container}: {}", describe(&error)))
    }

    pub async fn restart(&self, container: &str) -> Result<(), String> {
        let options = RestartContainerOptionsBuilder::new().t(STOP_GRACE_SECS).build();
        self.docker
            .restart_container(container, Some(options))
            .await
            .map_err(|error| format!("restarting {container}: {}", describe(&error)))
    }

    /// Auto-start on or off: the restart policy of the existing container, not a new one.
    pub async fn set_auto_start(&self, container: &str, enabled: bool) -> Result<(), String> {
        let update = ContainerUpdateBody { restart_policy: Some(restart_policy(enabled)), ..Default::default() };
        self.docker
            .update_container(container, update)
            .await
            .map_err(|error| format!("updating {container}: {}", describe(&error)))
    }

    /// `Ok(None)` when there is no such container.
    pub async fn inspect(&self, container: &str) -> Result<Option<ContainerState>, String> {
        match self.docker.inspect_container(container, None::<InspectContainerOptions>).await {
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                let health = state.health.and_then(|health| health.status).and_then(|status| match status {
                    HealthStatusEnum::HEALTHY => Some("healthy".to_string()),
                    HealthStatusEnum::UNHEALTHY => Some("unhealthy".to_string()),
                    HealthStatusEnum::STARTING => Some("starting".to_string()),
                    _ => None,
                });
                let restart_policy = info
                    .host_config
                    .and_then(|host| host.restart_policy)
                    .and_then(|policy| policy.name)
                    .map_or_else(|| "no".to_string(), |name| name.to_string());
                Ok(Some(ContainerState {
                    id: info.id.unwrap_or_default(),
                    running: state.running.unwrap_or(false),
                    health,
                    restart_policy: if restart_policy.is_empty() { "no".into() } else { restart_policy },
                    labels: info.config.and_then(|config| config.labels).unwrap_or_default(),
                }))
            }
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(error) => Err(format!("inspecting {container}: {}", describe(&error))),
        }
    }

    /// Containers carrying Luna's label: (container name, service label).
    pub async fn managed_containers(&self) -> Result<Vec<(String, String)>, String> {
        let filters = HashMap::from([("label", vec![format!("{LABEL_MANAGED}=true")])]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|error| format!("listing containers: {}", describe(&error)))?;
        Ok(containers
            .into_iter()
            .map(|container| {
                let name = container.names.unwrap_or_default().first().map(|n| n.trim_start_matches('/').to_string());
                let service = container.labels.unwrap_or_default().get(LABEL_SERVICE).cloned().unwrap_or_default();
                (name.unwrap_or_default(), service)
            })
            .collect())
    }

    /// The last `lines` lines of the container's output.
    pub async fn logs(&self, container: &str, lines: usize) -> Result<Vec<String>, String> {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&lines.to_string()).build();
        let mut stream = self.docker.logs(container, Some(options));
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            let item = item.map_err(|error| format!("logs of {container}: {}", describe(&error)))?;
            out.extend(log_lines(item));
        }
        Ok(out)
    }

    /// New output lines as they come; ends when the container stops.
    pub fn follow(&self, container: &str) -> impl Stream<Item = String> + Send + use<> {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).follow(true).tail("0").build();
        self.docker
            .logs(container, Some(options))
            .take_while(|item| std::future::ready(item.is_ok()))
            .flat_map(|item| futures_util::stream::iter(item.map(log_lines).unwrap_or_default()))
    }

    /// Removes the container (if there) and then `volumes`; returns the volumes removed.
    pub async fn remove(&self, container: &str, volumes: &[String]) -> Result<Vec<String>, String> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(container, Some(options)).await {
            Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(error) => return Err(format!("removing {container}: {}", describe(&error))),
        }
        let mut removed = Vec::new();
        for volume in volumes {
            match self.docker.remove_volume(volume, None::<RemoveVolumeOptions>).await {
                Ok(()) => removed.push(volume.clone()),
                Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => {}
                Err(error) => return Err(format!("removing volume {volume}: {}", describe(&error))),
            }
        }
        Ok(removed)
    }

    /// Volumes that exist among `volumes`.
    pub async fn existing_volumes(&self, volumes: &[String]) -> Vec<String> {
        let mut found = Vec::new();
        for volume in volumes {
            if self.docker.inspect_volume(volume).await.is_ok() {
                found.push(volume.clone());
            }
        }
        found
    }
}

/// Luna's labels; `spec_hash` on containers only.
fn labels(service: &str, spec_hash: Option<&str>) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_SERVICE.to_string(), service.to_string()),
    ]);
    if let Some(hash) = spec_hash {
        labels.insert(LABEL_SPEC_HASH.to_string(), hash.to_string());
    }
    labels
}

fn restart_policy(auto_start: bool) -> RestartPolicy {
    let name = if auto_start { RestartPolicyNameEnum::UNLESS_STOPPED } else { RestartPolicyNameEnum::NO };
    RestartPolicy { name: Some(name), maximum_retry_count: None }
}

fn log_lines(output: LogOutput) -> Vec<String> {
    let bytes = match output {
        LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message } => message,
        LogOutput::StdIn { .. } => return Vec::new(),
    };
    String::from_utf8_lossy(&bytes).lines().map(str::to_string).collect()
}

/// `registry:5000/repo:tag` → (`registry:5000/repo`, `tag`); no tag means `latest`.
fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (image, "latest"),
    }
}

/// The daemon's own message when it sent one.
fn describe(error: &BollardError) -> String {
    match error {
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        BollardError::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// Waits between health polls during an install.
pub const HEALTH_POLL: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_at_the_tag_not_the_registry_port() {
        assert_eq!(split_image("127.0.0.1:5000/luna/busybox:1"), ("127.0.0.1:5000/luna/busybox", "1"));
        assert_eq!(split_image("127.0.0.1:5000/luna/busybox"), ("127.0.0.1:5000/luna/busybox", "latest"));
        assert_eq!(split_image("postgres"), ("postgres", "latest"));
    }
}
