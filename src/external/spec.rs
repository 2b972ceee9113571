//! A Docker definition plus form values → the exact container Luna creates. Pure: no Docker.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::definition::{DockerDefinition, Network, UiMode};
use super::form::{Form, as_text};
use super::template::{self, Values};

#[derive(Debug, Clone, Serialize)]
pub struct ContainerSpec {
    pub service: String,
    pub container: String,
    pub image: String,
    pub command: Vec<String>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    pub network: Network,
    /// (host port, container port)
    pub ports: Vec<(u16, u16)>,
    /// (Docker volume name, mount target)
    pub volumes: Vec<(String, String)>,
    pub healthcheck: Option<RenderedHealthcheck>,
    pub memory_bytes: Option<i64>,
    pub nano_cpus: Option<i64>,
    #[serde(skip)]
    pub probe: Option<(u16, String)>,
    #[serde(skip)]
    pub ui: Option<(u16, UiMode)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenderedHealthcheck {
    pub test: Vec<String>,
    pub interval_ns: i64,
    pub timeout_ns: i64,
    pub retries: i64,
    pub start_period_ns: i64,
}

/// The container of service `name`.
pub fn container_name(service: &str) -> String {
    format!("luna-{service}")
}

/// The Docker volume behind volume `volume` of service `service`.
pub fn volume_name(service: &str, volume: &str) -> String {
    format!("luna-{service}-{volume}")
}

/// `/ext_service/<name>`: where the gateway serves a service's web UI.
pub fn ui_prefix(service: &str) -> String {
    format!("/ext_service/{service}")
}

fn template_values(definition: &DockerDefinition, values: &BTreeMap<String, Value>) -> Values {
    let mut out: Values = values.iter().map(|(name, value)| (name.clone(), as_text(value))).collect();
    out.insert("luna.service".into(), definition.name.clone());
    out.insert("luna.ui_base_path".into(), ui_prefix(&definition.name));
    out
}

pub fn render(definition: &DockerDefinition, values: &BTreeMap<String, Value>) -> Result<ContainerSpec, String> {
    let values = template_values(definition, values);
    let fill = |text: &str| template::render(text, &values);
    let port = |place: &str, text: &str| -> Result<u16, String> {
        let rendered = fill(text)?;
        rendered
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .ok_or_else(|| format!("{place}: `{rendered}` is not a port"))
    };
    let ports = definition
        .ports
        .iter()
        .map(|spec| {
            let host = port("ports", &spec.host)?;
            Ok((host, spec.container.unwrap_or(host)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let healthcheck = definition
        .healthcheck
        .as_ref()
        .map(|check| {
            let nanos = |secs: f64| (secs.clamp(0.001, 3600.0) * 1e9) as i64;
            Ok::<_, String>(RenderedHealthcheck {
                test: check.test.iter().map(|arg| fill(arg)).collect::<Result<_, _>>()?,
                interval_ns: nanos(check.interval_secs),
                timeout_ns: nanos(check.timeout_secs),
                retries: check.retries.max(1),
                start_period_ns: if check.start_period_secs > 0.0 { nanos(check.start_period_secs) } else { 0 },
            })
        })
        .transpose()?;
    Ok(ContainerSpec {
        service: definition.name.clone(),
        container: container_name(&definition.name),
        image: definition.image.clone(),
        command: definition.command.iter().map(|arg| fill(arg)).collect::<Result<_, _>>()?,
        env: definition
            .env
            .iter()
            .map(|(key, value)| Ok(format!("{key}={}", fill(value)?)))
            .collect::<Result<_, String>>()?,
        network: definition.network,
        ports,
        volumes: definition
            .volumes
            .iter()
            .map(|volume| (volume_name(&definition.name, &volume.name), volume.target.clone()))
            .collect(),
        healthcheck,
        memory_bytes: definition.resources.memory_mb.map(|mb| (mb * 1024 * 1024) as i64),
        nano_cpus: definition.resources.cpus.map(|cpus| (cpus * 1e9) as i64),
        probe: definition
            .probe
            .as_ref()
            .map(|probe| Ok::<_, String>((port("probe.port", &probe.port)?, probe.path.clone())))
            .transpose()?,
        ui: definition.ui.as_ref().map(|ui| Ok::<_, String>((port("ui.port", &ui.port)?, ui.mode))).transpose()?,
    })
}

impl ContainerSpec {
    /// Identifies what was created: a label on the container, compared at start.
    pub fn hash(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        crate::hex::lower(&Sha256::digest(&bytes)[..12])
    }
}

/// The definition's connection values, with secrets shown as `********` unless `reveal`.
pub fn exports(
    definition: &DockerDefinition,
    form: &Form,
    values: &BTreeMap<String, Value>,
    reveal: bool,
) -> BTreeMap<String, String> {
    let shown = if reveal { values.clone() } else { form.masked(values) };
    let values = template_values(definition, &shown);
    definition
        .exports
        .iter()
        .map(|(key, text)| (key.clone(), template::render(text, &values).unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_values_land_in_single_arguments() {
        let definition: DockerDefinition = serde_json::from_value(json!({
            "name": "db", "image": "postgres:16",
            "command": ["postgres", "-c", "port={{port}}"],
            "env": {"POSTGRES_PASSWORD": "{{password}}"},
            "ports": [{"host": "{{port}}", "container": 5432}],
            "volumes": [{"name": "data", "target": "/var/lib/postgresql/data"}],
            "exports": {"DATABASE_URL": "postgresql://u:{{password}}@127.0.0.1:{{port}}/db"}
        }))
        .unwrap();
        let values = BTreeMap::from([("port".into(), json!(6543)), ("password".into(), json!("x'; rm -rf /"))]);
        let spec = render(&definition, &values).unwrap();
        assert_eq!(spec.command, ["postgres", "-c", "port=6543"]);
        assert_eq!(spec.env, ["POSTGRES_PASSWORD=x'; rm -rf /"]);
        assert_eq!(spec.ports, [(6543, 5432)]);
        assert_eq!(spec.volumes, [("luna-db-data".to_string(), "/var/lib/postgresql/data".to_string())]);
        let form: Form = serde_json::from_value(json!({"fields": [
            {"name": "port", "type": "number"}, {"name": "password", "type": "password"}]}))
        .unwrap();
        assert_eq!(
            exports(&definition, &form, &values, false)["DATABASE_URL"],
            "postgresql://u:********@127.0.0.1:6543/db"
        );
        assert!(exports(&definition, &form, &values, true)["DATABASE_URL"].contains("rm -rf"));
    }
}
