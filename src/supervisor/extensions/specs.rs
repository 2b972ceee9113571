//! From an extension on disk to what the supervisor runs and routes.

use crate::extensions::{Extension, ports};
use crate::gateway::routes::{Route, Upstream};
use crate::master_config::PortAssignments;
use crate::settings::SupervisorSettings;
use crate::supervisor::child_env::{ChildEnv, ProcessIdentity};
use crate::supervisor::process::{ProcessRecord, ProcessSpec, log_file_name};

/// The UI's health endpoint (reference: a UI must serve `/healthz`).
const UI_HEALTH_CHECK: &str = "/healthz";

pub struct Plan {
    pub specs: Vec<ProcessSpec>,
    /// Processes that cannot run, with the reason.
    pub misconfigured: Vec<(String, ProcessRecord)>,
}

/// Gives every runnable UI and port-bearing service of valid extensions a port.
pub fn assign_ports<'a>(
    assignments: &mut PortAssignments,
    settings: &SupervisorSettings,
    extensions: impl Iterator<Item = &'a Extension>,
) {
    for extension in extensions.filter(|extension| extension.manifest.is_ok()) {
        if extension.ui.is_some()
            && let Err(error) =
                ports::ui_port(assignments, settings.ui_ports.clone(), &extension.name, crate::sys::port_is_free)
        {
            tracing::error!(%error, "cannot assign a port");
        }
        for service in extension.services.iter().filter(|service| service.config.is_ok()) {
            let key = service.key(&extension.name);
            let range = settings.service_ports.clone();
            if let Err(error) =
                ports::service_port(assignments, range, &key, service.requires_port(), crate::sys::port_is_free)
            {
                tracing::error!(%error, "cannot assign a port");
            }
        }
    }
}

/// The processes of `extension`, in start order (UI first, then services by name).
pub fn plan(extension: &Extension, assignments: &PortAssignments, env: &ChildEnv, ports_json: &str) -> Plan {
    let mut plan = Plan { specs: Vec::new(), misconfigured: Vec::new() };
    let name = extension.name.as_str();
    let log = |service: Option<&str>| log_file_name(name, service).display().to_string();
    if let Err(problem) = &extension.manifest {
        plan.misconfigured = misconfigured_records(extension, &problem.to_string());
        return plan;
    }

    if let Some(script) = &extension.ui {
        let key = extension.ui_key();
        match assignments.extensions.get(name) {
            Some(port) => {
                let identity = ProcessIdentity {
                    extension: name,
                    extension_dir: &extension.dir,
                    service: None,
                    port: Some(*port),
                    base_path: Some(format!("/ext/{name}")),
                    ports_json,
                };
                plan.specs.push(ProcessSpec {
                    key,
                    extension: name.to_string(),
                    service: None,
                    dir: extension.dir.join("ui"),
                    script: script.clone(),
                    port: Some(*port),
                    health_check: Some(UI_HEALTH_CHECK.to_string()),
                    restart_on_failure: true,
                    env: env.for_process(&identity),
                });
            }
            None => plan.misconfigured.push((
                key,
                ProcessRecord::misconfigured(
                    name,
                    None,
                    log(None),
                    "no free UI port left in supervisor.ui_ports".into(),
                ),
            )),
        }
    }

    let api_service = extension.api_service().map(|service| service.name.clone());
    for service in &extension.services {
        let key = service.key(name);
        let config = match &service.config {
            Ok(config) => config,
            Err(problem) => {
                let record = ProcessRecord::misconfigured(
                    name,
                    Some(&service.name),
                    log(Some(&service.name)),
                    problem.to_string(),
                );
                plan.misconfigured.push((key, record));
                continue;
            }
        };
        let port = assignments.services.get(&key).copied().flatten();
        if config.requires_port && port.is_none() {
            let error = "no free port left in supervisor.service_ports".to_string();
            plan.misconfigured
                .push((key, ProcessRecord::misconfigured(name, Some(&service.name), log(Some(&service.name)), error)));
            continue;
        }
        let is_api = api_service.as_deref() == Some(service.name.as_str());
        let identity = ProcessIdentity {
            extension: name,
            extension_dir: &extension.dir,
            service: Some(&service.name),
            port,
            base_path: is_api.then(|| format!("/api/{name}")),
            ports_json,
        };
        plan.specs.push(ProcessSpec {
            key,
            extension: name.to_string(),
            service: Some(service.name.clone()),
            dir: service.dir.clone(),
            script: service.start_script.clone(),
            port,
            health_check: config.health_check.clone(),
            restart_on_failure: config.restart_on_failure,
            env: env.for_process(&identity),
        });
    }
    plan
}

/// Every process of an extension whose `config.json` is unusable, marked with `reason`.
pub fn misconfigured_records(extension: &Extension, reason: &str) -> Vec<(String, ProcessRecord)> {
    let name = extension.name.as_str();
    let ui = extension.ui.iter().map(|_| {
        let record = ProcessRecord::misconfigured(
            name,
            None,
            log_file_name(name, None).display().to_string(),
            reason.to_string(),
        );
        (extension.ui_key(), record)
    });
    let services = extension.services.iter().map(|service| {
        let log = log_file_name(name, Some(&service.name)).display().to_string();
        (service.key(name), ProcessRecord::misconfigured(name, Some(&service.name), log, reason.to_string()))
    });
    ui.chain(services).collect()
}

/// The gateway routes of a running extension: `/ext/<name>/` to its UI and
/// `/api/<name>/` to its API service.
pub fn routes(extension: &Extension, assignments: &PortAssignments) -> Vec<Route> {
    let name = &extension.name;
    let Ok(manifest) = &extension.manifest else { return Vec::new() };
    let mut routes = Vec::new();
    if extension.ui.is_some()
        && let Some(port) = assignments.extensions.get(name)
    {
        let route = Route::new(&format!("/ext/{name}"), &format!("ext:{name}"), upstream(*port)).with_trailing_slash();
        routes.push(if manifest.ui_strip_prefix { route.stripping_prefix() } else { route });
    }
    if let Some(service) = extension.api_service()
        && let Some(Some(port)) = assignments.services.get(&service.key(name))
    {
        routes.push(Route::new(&format!("/api/{name}"), &format!("api:{name}"), upstream(*port)).stripping_prefix());
    }
    routes
}

fn upstream(port: u16) -> Upstream {
    Upstream::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}
