//! Settings: one validated [`Settings`] value built from three front-ends.
//!
//! Precedence is `config/luna.toml` < `LUNA_*` environment < command-line flags. Each raw
//! value remembers where it came from ([`Origin`]) so an invalid one is reported with the
//! exact key, variable or flag to fix. The names are a contract (SPEC §14): scripts, tests
//! and the installer rely on them.

mod agent;
mod app_origins;
mod audit;
mod auth;
mod extensions;
mod external;
mod file;
mod https;
mod mcp;
pub mod setup;
mod store;
mod supervisor;

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::env_file::EnvFile;
use crate::home::LunaHome;
pub use agent::AgentSettings;
pub use audit::AuditSettings;
pub use auth::{AuthSettings, GithubApp};
pub use external::ExternalServicesSettings;
use file::FileSettings;
pub use https::{AcmeSettings, CertificateSource, HttpsSettings};
pub use mcp::McpSettings;
pub use supervisor::SupervisorSettings;

/// The validated settings `luna serve` runs on. Built once at start-up, then read-only.
#[derive(Debug, Clone)]
pub struct Settings {
    pub home: LunaHome,
    /// The configuration file that was read, or would have been (it may not exist).
    pub config_file: PathBuf,
    pub deployment_mode: DeploymentMode,
    /// The gateway's plain-HTTP listener: loopback in `local` mode; in the public modes it
    /// only answers ACME challenges and redirects to HTTPS.
    pub http_listen: SocketAddr,
    /// The HTTPS listener and its certificate; `None` in `local` mode.
    pub https: Option<HttpsSettings>,
    /// The address people and GitHub reach Luna at, without trailing slash
    /// (`http://127.0.0.1:8800` in local mode): OAuth redirect URIs and token issuers.
    pub public_url: String,
    /// The gateway ports apps are served on (`scheme://<host>:<port>`); `None` where apps get
    /// names below the site's host (`<app>.<host>`).
    pub app_ports: Option<RangeInclusive<u16>>,
    pub log: LogSettings,
    pub supervisor: SupervisorSettings,
    pub auth: AuthSettings,
    pub mcp: McpSettings,
    pub audit: AuditSettings,
    pub agent: AgentSettings,
    pub external_services: ExternalServicesSettings,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// GitHub's REST API for `github:` extension sources (`extensions.github_api_url`).
    pub extensions_github_api_url: String,
    /// The Addon Store's registries by URL (`store.registries`), besides what ships with Luna.
    pub store_registries: Vec<String>,
    /// Secrets from `<home>/.env`.
    pub secrets: EnvFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentMode {
    /// HTTP on loopback only; no certificate.
    Local,
    /// HTTPS on all interfaces with a self-signed certificate.
    Lan,
    /// HTTPS for `<ip-with-dashes>.nip.io` with an ACME certificate.
    NipIo,
    /// HTTPS for `public_domain` with an ACME certificate.
    CustomDomain,
}

impl DeploymentMode {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "local" => Ok(Self::Local),
            "lan" => Ok(Self::Lan),
            "nip_io" => Ok(Self::NipIo),
            "custom_domain" => Ok(Self::CustomDomain),
            other => Err(format!("unknown mode `{other}`; expected one of local, lan, nip_io, custom_domain")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Lan => "lan",
            Self::NipIo => "nip_io",
            Self::CustomDomain => "custom_domain",
        }
    }

    /// Reachable from other machines: HTTPS, and a GitHub login is required.
    pub fn is_public(self) -> bool {
        self != Self::Local
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info` or `luna=debug,warn`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown format `{other}`; expected text or json")),
        }
    }
}

/// Command-line flags that override settings; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub home: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub http_listen: Option<String>,
    pub https_listen: Option<String>,
    pub log_format: Option<String>,
}

/// Where settings read environment variables from; tests pass a map.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|value| !value.is_empty())
    }
}

impl Environment for std::collections::HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|value| value.to_string())
    }
}

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// An invalid setting. `luna serve` exits with code 64 (EX_USAGE) on it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{key}` (from {origin}): {reason}")]
pub struct SettingsError {
    pub key: String,
    pub origin: Origin,
    pub reason: String,
}

impl SettingsError {
    fn new(key: &str, origin: Origin, reason: impl Into<String>) -> Self {
        Self { key: key.to_string(), origin, reason: reason.into() }
    }
}

/// Resolves the installation directory: `--home` > `LUNA_HOME` > the current directory.
pub fn resolve_home(flags: &Flags, env: &dyn Environment) -> Result<LunaHome, SettingsError> {
    let (raw, origin) = match (&flags.home, env.var("LUNA_HOME")) {
        (Some(path), _) => (path.clone(), Origin::Flag("--home")),
        (None, Some(path)) => (PathBuf::from(path), Origin::Env("LUNA_HOME")),
        (None, None) => (PathBuf::from("."), Origin::Default),
    };
    let root = std::fs::canonicalize(&raw)
        .map_err(|error| SettingsError::new("home", origin.clone(), format!("{}: {error}", raw.display())))?;
    if !root.is_dir() {
        return Err(SettingsError::new("home", origin, format!("{} is not a directory", root.display())));
    }
    Ok(LunaHome::new(root))
}

impl Settings {
    /// Reads and validates every source. `env` is the process environment in production.
    pub fn load(flags: &Flags, env: &dyn Environment) -> Result<Self, SettingsError> {
        let home = resolve_home(flags, env)?;
        let (config_file, config_origin) = match (&flags.config, env.var("LUNA_CONFIG")) {
            (Some(path), _) => (path.clone(), Some(Origin::Flag("--config"))),
            (None, Some(path)) => (PathBuf::from(path), Some(Origin::Env("LUNA_CONFIG"))),
            (None, None) => (home.default_config_file(), None),
        };
        let file = read_config_file(&config_file, config_origin)?;
        let file_origin = Origin::File(config_file.clone());

        let mode = layer(
            ("deployment_mode", file.deployment_mode, &file_origin),
            ("LUNA_DEPLOYMENT_MODE", env),
            None,
            "local",
        );
        let deployment_mode =
            DeploymentMode::parse(&mode.0).map_err(|reason| SettingsError::new("deployment_mode", mode.1, reason))?;

        let listen = layer(
            ("server.http_listen", file.server.http_listen, &file_origin),
            ("LUNA_HTTP_LISTEN", env),
            flags.http_listen.clone().map(|v| (v, "--http-listen")),
            if deployment_mode.is_public() { "0.0.0.0:80" } else { "127.0.0.1:8800" },
        );
        let http_listen = parse_listen(&listen.0, deployment_mode)
            .map_err(|reason| SettingsError::new("server.http_listen", listen.1, reason))?;
        let https = https::resolve(https::HttpsInput {
            mode: deployment_mode,
            file: &file_origin,
            env,
            listen_file: file.server.https_listen,
            listen_flag: flags.https_listen.clone(),
            public_domain: file.public_domain,
            public_ip: file.public_ip,
            acme: file.acme,
        })?;
        if let Some(https) = &https
            && https.listen == http_listen
        {
            let reason = format!("{http_listen} is also server.http_listen; HTTP and HTTPS need their own ports");
            return Err(SettingsError::new("server.https_listen", Origin::Default, reason));
        }

        let format = layer(
            ("log.format", file.log.format, &file_origin),
            ("LUNA_LOG_FORMAT", env),
            flags.log_format.clone().map(|v| (v, "--log-format")),
            "text",
        );
        let log_format =
            LogFormat::parse(&format.0).map_err(|reason| SettingsError::new("log.format", format.1, reason))?;
        let level = layer(("log.level", file.log.level, &file_origin), ("LUNA_LOG_LEVEL", env), None, "info");
        tracing_subscriber::EnvFilter::builder()
            .parse(&level.0)
            .map_err(|error| SettingsError::new("log.level", level.1, error.to_string()))?;

        let supervisor = file.supervisor.validate(&file_origin)?;

        let secrets = EnvFile::load(&home.env_file())
            .map_err(|error| SettingsError::new(&error.key(), Origin::File(home.env_file()), error.to_string()))?;
        let auth = file.auth.validate(&file_origin, env, &secrets)?;
        if deployment_mode.is_public() && auth.github.is_none() {
            let reason = format!(
                "{} mode is reachable from other machines, so it needs a GitHub login: set GITHUB_CLIENT_ID and \
                 GITHUB_CLIENT_SECRET in .env and name who may log in in auth.allowed_users",
                deployment_mode.as_str()
            );
            return Err(SettingsError::new("GITHUB_CLIENT_ID", Origin::File(home.env_file()), reason));
        }
        let mcp = file.mcp.validate(&file_origin)?;
        let audit = file.audit.validate(&file_origin)?;
        let agent = file.agent.validate(&file_origin, env)?;
        let external_services = external::validate(file.docker, file.external_services, &file_origin, env)?;
        let database_url = file.database.validate(&file_origin, env, &home.state_dir().join("luna.db"))?;
        let public_url = match (env.var("LUNA_PUBLIC_URL"), file.server.public_url) {
            (Some(url), _) => (url, Origin::Env("LUNA_PUBLIC_URL")),
            (None, Some(url)) => (url, file_origin.clone()),
            (None, None) => match &https {
                Some(https) => (https.origin(), Origin::Default),
                None => (format!("http://{http_listen}"), Origin::Default),
            },
        };
        let (public_url, public_url_origin) = public_url;
        let parsed = match reqwest::Url::parse(&public_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.path() == "/" && url.query().is_none() => url,
            _ => {
                return Err(SettingsError::new(
                    "server.public_url",
                    public_url_origin,
                    format!("`{public_url}` is not an http(s) origin like https://luna.example.com"),
                ));
            }
        };
        // Without a login every request that reaches Luna is its owner: fine on loopback,
        // but a public name means a tunnel or a proxy brings in the whole internet.
        if auth.github.is_none() && !parsed.host().is_some_and(|host| is_loopback_host(&host)) {
            let reason = format!(
                "`{public_url}` is not a loopback address, and without a GitHub login everyone who reaches \
                 Luna is its owner: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET in .env and name who may log in \
                 in auth.allowed_users (README: \"Log in with GitHub\"), or remove server.public_url"
            );
            return Err(SettingsError::new("server.public_url", public_url_origin, reason));
        }
        let app_ports = app_origins::resolve(app_origins::AppOriginsInput {
            file: &file_origin,
            env,
            app_origins: file.server.app_origins,
            app_ports: file.server.app_ports,
            host: parsed.host().expect("an http(s) URL has a host"),
            listen_ports: std::iter::once(http_listen.port()).chain(https.as_ref().map(|h| h.listen.port())).collect(),
            supervisor: &supervisor,
        })?;
        let public_url = public_url.trim_end_matches('/').to_string();
        let extensions_github_api_url = file.extensions.github_api_url(&file_origin, env, &auth.github_api_url)?;
        let store_registries = file.store.registries(&file_origin, env)?;

        Ok(Settings {
            home,
            config_file,
            deployment_mode,
            http_listen,
            https,
            public_url,
            app_ports,
            log: LogSettings { format: log_format, level: level.0 },
            supervisor,
            auth,
            mcp,
            audit,
            agent,
            external_services,
            database_url,
            extensions_github_api_url,
            store_registries,
            secrets,
        })
    }
}

/// `localhost`, a name under `.localhost` (RFC 6761: always loopback), or a loopback address.
fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Picks the highest-precedence value of one setting: flag > environment > file > default.
fn layer(
    file: (&'static str, Option<String>, &Origin),
    env: (&'static str, &dyn Environment),
    flag: Option<(String, &'static str)>,
    default: &str,
) -> (String, Origin) {
    if let Some((value, name)) = flag {
        return (value, Origin::Flag(name));
    }
    if let Some(value) = env.1.var(env.0) {
        return (value, Origin::Env(env.0));
    }
    match file.1 {
        Some(value) => (value, file.2.clone()),
        None => (default.to_string(), Origin::Default),
    }
}

/// An optional setting without flag or default: environment > file.
/// `a, b,c` → `[a, b, c]`, for list settings given as one environment variable.
fn split_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
}

fn env_or_file(
    variable: &'static str,
    env: &dyn Environment,
    file_value: Option<String>,
    file: &Origin,
) -> Option<(String, Origin)> {
    match env.var(variable) {
        Some(value) => Some((value, Origin::Env(variable))),
        None => file_value.map(|value| (value, file.clone())),
    }
}

fn read_config_file(path: &Path, explicit: Option<Origin>) -> Result<FileSettings, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        // The default file is optional: a bare home runs on the built-in defaults.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            return Ok(FileSettings::default());
        }
        Err(error) => {
            let origin = explicit.unwrap_or(Origin::Default);
            return Err(SettingsError::new("config", origin, format!("{}: {error}", path.display())));
        }
    };
    FileSettings::parse(&text).map_err(|error| SettingsError {
        key: error.key,
        origin: Origin::File(path.to_path_buf()),
        reason: error.reason,
    })
}

fn parse_listen(text: &str, mode: DeploymentMode) -> Result<SocketAddr, String> {
    let address: SocketAddr =
        text.parse().map_err(|_| format!("`{text}` is not an address of the form 127.0.0.1:8800"))?;
    if mode == DeploymentMode::Local && !address.ip().is_loopback() {
        return Err(format!(
            "`{text}` is not a loopback address; local mode serves plain HTTP without login, so it \
             only listens on loopback (use a public deployment mode to serve other hosts)"
        ));
    }
    Ok(address)
}

#[cfg(test)]
mod tests;
