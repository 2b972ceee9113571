//! `[auth]` and `[database]`: who may log in, how GitHub is reached, how long sessions
//! live, and where sessions are stored.

use std::time::Duration;

use serde::Deserialize;

use super::{Environment, Origin, SettingsError};
use crate::allow_list::{AllowList, Entry};
use crate::env_file::EnvFile;

pub const GITHUB_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_API_URL: &str = "https://api.github.com";

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `auth.allowed_users` and `auth.allowed_orgs`: who may log in (ids or logins); and
    /// `auth.admins`: who of them may change Luna.
    pub allow_list: AllowList,
    /// `None`: no GitHub OAuth app configured (only possible in local mode: open access).
    pub github: Option<GithubApp>,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, used or not.
    pub session_max: Duration,
    /// GitHub's REST API (`auth.github.api_url`): logins, and extensions installed from GitHub.
    pub github_api_url: String,
}

/// The GitHub OAuth app Luna logs people in with, and where GitHub is.
#[derive(Clone)]
pub struct GithubApp {
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: String,
    pub token_url: String,
    pub api_url: String,
}

impl std::fmt::Debug for GithubApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuthSection {
    pub allowed_users: Option<Vec<String>>,
    pub allowed_orgs: Option<Vec<String>>,
    pub admins: Option<Vec<String>>,
    pub session_idle_hours: Option<u64>,
    pub session_max_days: Option<u64>,
    #[serde(default)]
    pub github: GithubSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GithubSection {
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DatabaseSection {
    pub url: Option<String>,
}

impl DatabaseSection {
    /// `database.url` / `LUNA_DATABASE_URL`, or SQLite at `default_sqlite`.
    pub fn validate(
        self,
        file: &Origin,
        env: &dyn Environment,
        default_sqlite: &std::path::Path,
    ) -> Result<String, SettingsError> {
        let (url, origin) = match (env.var("LUNA_DATABASE_URL"), self.url) {
            (Some(url), _) => (url, Origin::Env("LUNA_DATABASE_URL")),
            (None, Some(url)) => (url, file.clone()),
            (None, None) => return Ok(format!("sqlite://{}?mode=rwc", default_sqlite.display())),
        };
        if ["sqlite:", "postgres://", "postgresql://"].iter().any(|scheme| url.starts_with(scheme)) {
            Ok(url)
        } else {
            Err(SettingsError::new("database.url", origin, "must start with sqlite:, postgres:// or postgresql://"))
        }
    }
}

impl AuthSection {
    pub fn validate(
        self,
        file: &Origin,
        env: &dyn Environment,
        secrets: &EnvFile,
    ) -> Result<AuthSettings, SettingsError> {
        let list = |variable: &'static str, from_file: Option<Vec<String>>| match env.var(variable) {
            Some(text) => (super::split_list(&text), Origin::Env(variable)),
            None => (from_file.unwrap_or_default(), file.clone()),
        };
        let (users, users_origin) = list("LUNA_ALLOWED_USERS", self.allowed_users);
        let (orgs, orgs_origin) = list("LUNA_ALLOWED_ORGS", self.allowed_orgs);
        let entries = |key: &str, texts: Vec<String>, origin: &Origin| {
            texts
                .iter()
                .map(|text| Entry::parse(text).map_err(|reason| SettingsError::new(key, origin.clone(), reason)))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut allow_list = AllowList::new(
            entries("auth.allowed_users", users, &users_origin)?,
            entries("auth.allowed_orgs", orgs, &orgs_origin)?,
        );
        let admins = match env.var("LUNA_ADMINS") {
            Some(text) => Some((super::split_list(&text), Origin::Env("LUNA_ADMINS"))),
            None => self.admins.map(|admins| (admins, file.clone())),
        };
        if let Some((admins, origin)) = admins {
            allow_list = allow_list.with_admins(entries("auth.admins", admins, &origin)?);
        }

        let url = |key: &str, variable: &'static str, from_file: Option<String>, default: &str| {
            let (value, origin) = match (env.var(variable), from_file) {
                (Some(value), _) => (value, Origin::Env(variable)),
                (None, Some(value)) => (value, file.clone()),
                (None, None) => (default.to_string(), Origin::Default),
            };
            match reqwest::Url::parse(&value) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                    Ok(value.trim_end_matches('/').to_string())
                }
                _ => Err(SettingsError::new(key, origin, format!("`{value}` is not an http(s) URL"))),
            }
        };
        let authorize_url = url(
            "auth.github.authorize_url",
            "LUNA_GITHUB_AUTHORIZE_URL",
            self.github.authorize_url,
            GITHUB_AUTHORIZE_URL,
        )?;
        let token_url = url("auth.github.token_url", "LUNA_GITHUB_TOKEN_URL", self.github.token_url, GITHUB_TOKEN_URL)?;
        let api_url = url("auth.github.api_url", "LUNA_GITHUB_API_URL", self.github.api_url, GITHUB_API_URL)?;

        // Credentials come from `.env`; the process environment may also carry them.
        let credential = |name: &str| {
            secrets.get(name).map(str::to_string).or_else(|| env.var(name)).filter(|value| !value.trim().is_empty())
        };
        let github = match (credential("GITHUB_CLIENT_ID"), credential("GITHUB_CLIENT_SECRET")) {
            (Some(client_id), Some(client_secret)) => {
                Some(GithubApp { client_id, client_secret, authorize_url, token_url, api_url: api_url.clone() })
            }
            (None, None) => None,
            _ => {
                return Err(SettingsError::new(
                    "GITHUB_CLIENT_SECRET",
                    Origin::Default,
                    "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together (in .env)",
                ));
            }
        };
        if github.is_some() && allow_list.is_empty() {
            return Err(SettingsError::new(
                "auth.allowed_users",
                users_origin,
                "GitHub login is configured but nobody is allowed in: name GitHub ids or logins in \
                 auth.allowed_users (LUNA_ALLOWED_USERS) or organizations in auth.allowed_orgs (LUNA_ALLOWED_ORGS)",
            ));
        }
        let hours = |value: Option<u64>, default: u64, key: &str| match value {
            Some(0) => Err(SettingsError::new(key, file.clone(), "must be greater than 0")),
            other => Ok(other.unwrap_or(default)),
        };
        Ok(AuthSettings {
            allow_list,
            github,
            session_idle: Duration::from_secs(3600 * hours(self.session_idle_hours, 72, "auth.session_idle_hours")?),
            session_max: Duration::from_secs(86400 * hours(self.session_max_days, 30, "auth.session_max_days")?),
            github_api_url: api_url,
        })
    }
}
