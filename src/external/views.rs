//! What the API and the CLI show of external services.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::definition::Definition;
use super::docker::PullProgress;
use super::form::Form;
use super::registry::{Installed, Status};
use super::spec;

/// One line of `luna infra list`: a definition and whether it is installed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Available {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub category: String,
    pub kind: String,
    pub installed: bool,
    pub status: Option<Status>,
    pub has_ui: bool,
    /// Why the definition cannot be used.
    pub problem: Option<String>,
}

/// An installed service as the API shows it (secrets masked unless revealed).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstalledView {
    pub name: String,
    pub display_name: String,
    pub status: Status,
    pub status_detail: Option<String>,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub installed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_health_check: Option<OffsetDateTime>,
    pub container: String,
    pub image: String,
    pub volumes: Vec<String>,
    pub ports: Vec<u16>,
    /// `/ext_service/<name>/` when the service has a web UI.
    pub ui_path: Option<String>,
    pub config: BTreeMap<String, Value>,
    /// Connection values to copy (`DATABASE_URL`, ...).
    pub exports: BTreeMap<String, String>,
}

/// `GET /api/external-services/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Details {
    pub name: String,
    pub kind: String,
    pub definition: Option<Value>,
    pub form: Option<Form>,
    pub problem: Option<String>,
    pub installed: Option<InstalledView>,
    /// The volumes an uninstall with `remove_data` deletes.
    pub data_volumes: Vec<String>,
}

/// What an uninstall removed and kept.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Uninstalled {
    pub name: String,
    pub removed_container: String,
    pub removed_volumes: Vec<String>,
    pub kept_volumes: Vec<String>,
}

/// Install progress, streamed to the Hub and the CLI.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InstallEvent {
    Step { message: String },
    Pull(PullProgress),
}

/// An installed service as the API shows it; `loaded` is its definition, if still usable.
pub(super) fn view_of(
    name: &str,
    record: Installed,
    loaded: Option<&(Definition, Form)>,
    reveal: bool,
) -> InstalledView {
    let (display_name, config, exports) = match loaded {
        Some((Definition::Docker(docker), form)) => (
            docker.display_name.clone().unwrap_or_else(|| name.to_string()),
            if reveal { record.config.clone() } else { form.masked(&record.config) },
            spec::exports(docker, form, &record.config, reveal),
        ),
        // The definition is gone or broken: show nothing that could be a secret.
        _ => (name.to_string(), BTreeMap::new(), BTreeMap::new()),
    };
    InstalledView {
        name: name.to_string(),
        display_name,
        status: record.status,
        status_detail: record.status_detail,
        enabled: record.enabled,
        installed_at: record.installed_at,
        last_health_check: record.last_health_check,
        container: record.container,
        image: record.image,
        volumes: record.volumes,
        ports: record.ports,
        ui_path: record.ui.map(|_| format!("{}/", spec::ui_prefix(name))),
        config,
        exports,
    }
}
