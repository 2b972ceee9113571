//! The `config/luna.toml` format: every field optional, unknown keys rejected so a typo
//! is an error instead of a silently ignored line. Only [`super::Settings::load`] reads it.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSettings {
    pub deployment_mode: Option<String>,
    pub public_domain: Option<String>,
    pub public_ip: Option<String>,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub supervisor: super::supervisor::SupervisorSection,
    #[serde(default)]
    pub auth: super::auth::AuthSection,
    #[serde(default)]
    pub database: super::auth::DatabaseSection,
    #[serde(default)]
    pub mcp: super::mcp::McpSection,
    #[serde(default)]
    pub audit: super::audit::AuditSection,
    #[serde(default)]
    pub agent: super::agent::AgentSection,
    #[serde(default)]
    pub acme: super::https::AcmeSection,
    #[serde(default)]
    pub docker: super::external::DockerSection,
    #[serde(default)]
    pub external_services: super::external::ExternalServicesSection,
    #[serde(default)]
    pub extensions: super::extensions::ExtensionsSection,
    #[serde(default)]
    pub store: super::store::StoreSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerSection {
    pub http_listen: Option<String>,
    pub https_listen: Option<String>,
    pub public_url: Option<String>,
    pub app_origins: Option<String>,
    pub app_ports: Option<[u16; 2]>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogSection {
    pub format: Option<String>,
    pub level: Option<String>,
}

pub(super) struct FileError {
    pub key: String,
    pub reason: String,
}

impl FileSettings {
    pub fn parse(text: &str) -> Result<Self, FileError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|error| FileError {
            key: "config".to_string(),
            reason: error.message().to_string() + &line_of(text, error.span()),
        })?;
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = error.path().to_string();
            let inner = error.into_inner();
            FileError {
                key: if key == "." { "config".to_string() } else { key },
                reason: inner.message().to_string() + &line_of(text, inner.span()),
            }
        })
    }
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}
