//! From an extension on disk to what the supervisor runs and routes.

use crate::extensions::{Extension, ports};
use crate::gateway::routes::{Route, Upstream};
use crate::master_config::PortAssignments;
use crate::settings::SupervisorSettings;
use crate::supervisor::child_env::{ChildEnv, ProcessIdentity};
use crate::supervisor::process::{ProcessKind, ProcessRecord, ProcessSpec};
use crate::tools::launch::host_command;

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

/// Where the start-up plan gets what is the same for every extension.
pub struct PlanContext<'a> {
    pub assignments: &'a PortAssignments,
    pub env: &'a ChildEnv,
    pub ports_json: &'a str,
    /// The Python tool host script written into `.luna/`.
    pub tool_host_script: &'a std::path::Path,
}

/// The processes of `extension`, in start order (tool host first, so tools are offered
/// early; then the UI, then services by name).
pub fn plan(extension: &Extension, context: &PlanContext<'_>) -> Plan {
    let PlanContext { assignments, env, ports_json, .. } = *context;
    let mut plan = Plan { specs: Vec::new(), misconfigured: Vec::new() };
    let name = extension.name.as_str();
    let manifest = match &extension.manifest {
        Ok(manifest) => manifest,
        Err(problem) => {
            plan.misconfigured = misconfigured_records(extension, &problem.to_string());
            return plan;
        }
    };

    match tool_host(extension, manifest, context) {
        Some(Ok(spec)) => plan.specs.push(spec),
        Some(Err(error)) => plan
            .misconfigured
            .push((extension.tools_key(), ProcessRecord::misconfigured(name, &ProcessKind::Tools, error))),
        None => {}
    }

    if let Some(script) = &extension.ui {
        let key = extension.ui_key();
        match assignments.extensions.get(name) {
            Some(port) => {
                let identity = ProcessIdentity {
                    extension: name.to_string(),
                    extension_dir: extension.dir.clone(),
                    service: None,
                    port: Some(*port),
                    // Every UI is served at the root of an origin of its own.
                    base_path: Some(String::new()),
                    ports_json: ports_json.to_string(),
                };
                plan.specs.push(ProcessSpec {
                    key,
                    extension: name.to_string(),
                    kind: ProcessKind::Ui,
                    dir: extension.dir.join("ui"),
                    program: script.clone(),
                    args: Vec::new(),
                    port: Some(*port),
                    health_check: Some(UI_HEALTH_CHECK.to_string()),
                    restart_on_failure: true,
                    env: env.environment(identity),
                });
            }
            None => plan.misconfigured.push((
                key,
                ProcessRecord::misconfigured(
                    name,
                    &ProcessKind::Ui,
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
                let kind = ProcessKind::Service(service.name.clone());
                let record = ProcessRecord::misconfigured(name, &kind, problem.to_string());
                plan.misconfigured.push((key, record));
                continue;
            }
        };
        let port = assignments.services.get(&key).copied().flatten();
        if config.requires_port && port.is_none() {
            let error = "no free port left in supervisor.service_ports".to_string();
            let kind = ProcessKind::Service(service.name.clone());
            plan.misconfigured.push((key, ProcessRecord::misconfigured(name, &kind, error)));
            continue;
        }
        let is_api = api_service.as_deref() == Some(service.name.as_str());
        let identity = ProcessIdentity {
            extension: name.to_string(),
            extension_dir: extension.dir.clone(),
            service: Some(service.name.clone()),
            port,
            base_path: is_api.then(|| format!("/api/{name}")),
            ports_json: ports_json.to_string(),
        };
        plan.specs.push(ProcessSpec {
            key,
            extension: name.to_string(),
            kind: ProcessKind::Service(service.name.clone()),
            dir: service.dir.clone(),
            program: service.start_script.clone(),
            args: Vec::new(),
            port,
            health_check: config.health_check.clone(),
            restart_on_failure: config.restart_on_failure,
            env: env.environment(identity),
        });
    }
    plan
}

/// The extension's tool host, if it has tools (see [`crate::tools::launch`]).
fn tool_host(
    extension: &Extension,
    manifest: &crate::extensions::Manifest,
    context: &PlanContext<'_>,
) -> Option<Result<ProcessSpec, String>> {
    let identity = ProcessIdentity {
        extension: extension.name.clone(),
        extension_dir: extension.dir.clone(),
        service: Some("tools".into()),
        port: None,
        base_path: None,
        ports_json: context.ports_json.to_string(),
    };
    // The tool host's program is found on the PATH it will run with.
    let env = context.env.for_process(&identity);
    let path = env.iter().find(|(key, _)| key == "PATH").map_or("", |(_, value)| value.as_str());
    let command = host_command(&extension.dir, manifest.mcp_server_command.as_deref(), context.tool_host_script, path)?;
    Some(command.map(|command| ProcessSpec {
        key: extension.tools_key(),
        extension: extension.name.clone(),
        kind: ProcessKind::Tools,
        dir: extension.dir.clone(),
        program: command.program,
        args: command.args,
        port: None,
        health_check: None,
        restart_on_failure: true,
        env: context.env.environment(identity),
    }))
}

/// Every process of an extension whose `config.json` is unusable, marked with `reason`.
pub fn misconfigured_records(extension: &Extension, reason: &str) -> Vec<(String, ProcessRecord)> {
    let name = extension.name.as_str();
    let ui = extension.ui.iter().map(|_| (extension.ui_key(), ProcessKind::Ui));
    let services =
        extension.services.iter().map(|service| (service.key(name), ProcessKind::Service(service.name.clone())));
    ui.chain(services).map(|(key, kind)| (key, ProcessRecord::misconfigured(name, &kind, reason.to_string()))).collect()
}

/// The gateway routes of a running extension: `/ext/<name>/` to its UI and
/// `/api/<name>/` to its API service, both also on the app origin `<name>.<site host>` (the
/// UI at its root).
pub fn routes(extension: &Extension, assignments: &PortAssignments) -> Vec<Route> {
    let name = &extension.name;
    let Ok(manifest) = &extension.manifest else { return Vec::new() };
    let mut routes = Vec::new();
    if extension.ui.is_some()
        && let Some(port) = assignments.extensions.get(name)
    {
        let route = Route::new(&format!("/ext/{name}"), &format!("ext:{name}"), upstream(*port))
            .with_trailing_slash()
            .app_ui(name);
        routes.push(if manifest.ui_strip_prefix { route.stripping_prefix() } else { route });
    }
    if let Some(service) = extension.api_service()
        && let Some(Some(port)) = assignments.services.get(&service.key(name))
    {
        let route = Route::new(&format!("/api/{name}"), &format!("api:{name}"), upstream(*port)).stripping_prefix();
        routes.push(route.app_path(name));
    }
    routes
}

fn upstream(port: u16) -> Upstream {
    Upstream::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}
