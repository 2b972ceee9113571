//! `luna setup`: writes the few settings a server needs into `config/luna.toml` and the GitHub
//! app's credentials into `.env`, then loads the result as `luna serve` would. The installer
//! asks the questions; this writes the answers, so that validation lives in one place.
//!
//! Keys that are not answered keep their value, and everything else in the file (comments,
//! other keys) is kept as it is. A result that does not load restores both files.

use std::path::Path;

use toml_edit::{Array, DocumentMut, Item, Table};

use super::{Environment, Flags, Settings, SettingsError};

/// The documented defaults, written where a home has no `config/luna.toml` yet.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/luna.toml");

/// What to change; `None` keeps the current value.
#[derive(Debug, Default, Clone)]
pub struct Answers {
    pub deployment_mode: Option<String>,
    pub public_domain: Option<String>,
    pub public_ip: Option<String>,
    pub allowed_users: Option<Vec<String>>,
    pub allowed_orgs: Option<Vec<String>>,
    pub admins: Option<Vec<String>>,
    pub acme_email: Option<String>,
    pub acme_directory_url: Option<String>,
    pub github_client_id: Option<String>,
    pub github_client_secret: Option<String>,
}

/// What the settings came to.
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    pub config_file: String,
    pub deployment_mode: String,
    pub public_url: String,
    /// What to paste into the GitHub OAuth app's "Authorization callback URL".
    pub github_callback_url: String,
    pub github_configured: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    /// The answers make settings `luna serve` would refuse; both files are as they were.
    #[error("{0} (nothing was changed)")]
    Invalid(SettingsError),
}

/// Applies `answers` to the home of `flags` and validates the result.
pub fn apply(flags: &Flags, env: &dyn Environment, answers: &Answers) -> Result<Outcome, SetupError> {
    let home = super::resolve_home(flags, env).map_err(SetupError::Invalid)?;
    let config_file = flags.config.clone().unwrap_or_else(|| home.default_config_file());
    let env_file = home.env_file();
    let file_error = |path: &Path, reason: String| SetupError::File { path: path.display().to_string(), reason };

    let old_config = read_optional(&config_file).map_err(|error| file_error(&config_file, error.to_string()))?;
    let old_env = read_optional(&env_file).map_err(|error| file_error(&env_file, error.to_string()))?;
    let new_config = edit_config(old_config.as_deref().unwrap_or(DEFAULT_CONFIG), answers)
        .map_err(|reason| file_error(&config_file, reason))?;

    if let Some(dir) = config_file.parent() {
        std::fs::create_dir_all(dir).map_err(|error| file_error(dir, error.to_string()))?;
    }
    crate::state_file::write_atomic(&config_file, new_config.as_bytes(), 0o600)
        .map_err(|error| file_error(&config_file, error.to_string()))?;
    let secrets = [
        ("GITHUB_CLIENT_ID", answers.github_client_id.as_deref()),
        ("GITHUB_CLIENT_SECRET", answers.github_client_secret.as_deref()),
    ];
    let changes: Vec<(&str, Option<&str>)> =
        secrets.iter().filter_map(|(key, answer)| answer.map(|answer| (*key, Some(answer.trim())))).collect();
    let written = if changes.is_empty() { Ok(()) } else { crate::env_file::edit(&env_file, &changes) };

    let loaded = written
        .map_err(|error| file_error(&env_file, error.to_string()))
        .and_then(|()| Settings::load(flags, env).map_err(SetupError::Invalid));
    match loaded {
        Ok(settings) => Ok(Outcome {
            config_file: config_file.display().to_string(),
            deployment_mode: settings.deployment_mode.as_str().to_string(),
            github_callback_url: format!("{}/auth/callback", settings.public_url),
            public_url: settings.public_url,
            github_configured: settings.auth.github.is_some(),
        }),
        Err(error) => {
            restore(&config_file, old_config.as_deref());
            restore(&env_file, old_env.as_deref());
            Err(error)
        }
    }
}

/// `text` with the answered keys set, comments and everything else kept.
pub fn edit_config(text: &str, answers: &Answers) -> Result<String, String> {
    let mut document: DocumentMut = text.parse().map_err(|error| format!("not valid TOML: {error}"))?;
    let strings = [
        (None, "deployment_mode", &answers.deployment_mode),
        (None, "public_domain", &answers.public_domain),
        (None, "public_ip", &answers.public_ip),
        (Some("acme"), "email", &answers.acme_email),
        (Some("acme"), "directory_url", &answers.acme_directory_url),
    ];
    for (table, key, answer) in strings {
        if let Some(answer) = answer {
            set(table_of(&mut document, table)?, key, answer.trim().into());
        }
    }
    let lists = [
        ("allowed_users", &answers.allowed_users),
        ("allowed_orgs", &answers.allowed_orgs),
        ("admins", &answers.admins),
    ];
    for (key, answer) in lists {
        if let Some(names) = answer {
            let array: Array = names.iter().map(|name| name.trim()).filter(|name| !name.is_empty()).collect();
            set(table_of(&mut document, Some("auth"))?, key, array.into());
        }
    }
    Ok(document.to_string())
}

/// Sets `key`, keeping the comments above it and after its value.
fn set(table: &mut Table, key: &str, new: toml_edit::Value) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = new;
            *old.decor_mut() = decor;
        }
        None => {
            table.insert(key, Item::Value(new));
        }
    }
}

fn table_of<'a>(document: &'a mut DocumentMut, name: Option<&str>) -> Result<&'a mut Table, String> {
    let Some(name) = name else { return Ok(document.as_table_mut()) };
    document
        .entry(name)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .ok_or_else(|| format!("`{name}` is not a table"))
}

fn read_optional(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Puts a file back as it was before `apply` (gone, if it did not exist).
fn restore(path: &Path, old: Option<&str>) {
    let result = match old {
        Some(text) => crate::state_file::write_atomic(path, text.as_bytes(), 0o600),
        None => std::fs::remove_file(path),
    };
    if let Err(error) =
        result.or_else(|error| if error.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(error) })
    {
        eprintln!("luna: could not restore {}: {error}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_replace_their_keys_and_keep_every_comment() {
        let answers = Answers {
            deployment_mode: Some("nip_io".into()),
            public_ip: Some("203.0.113.7".into()),
            allowed_users: Some(vec!["octocat".into(), " 583231 ".into(), "".into()]),
            acme_email: Some("me@example.com".into()),
            ..Answers::default()
        };
        let text = edit_config(DEFAULT_CONFIG, &answers).unwrap();
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(parsed["deployment_mode"].as_str(), Some("nip_io"));
        assert_eq!(parsed["public_ip"].as_str(), Some("203.0.113.7"));
        assert_eq!(parsed["auth"]["allowed_users"].as_array().unwrap().len(), 2);
        assert_eq!(parsed["auth"]["allowed_users"][1].as_str(), Some("583231"));
        assert_eq!(parsed["acme"]["email"].as_str(), Some("me@example.com"));
        assert_eq!(parsed["log"]["format"].as_str(), Some("text"), "other keys kept");
        for line in DEFAULT_CONFIG.lines().filter(|line| line.trim_start().starts_with('#')) {
            assert!(text.contains(line), "comment lost: {line}");
        }
        assert_eq!(edit_config(&text, &Answers::default()).unwrap(), text, "no answers change nothing");
    }

    #[test]
    fn a_file_that_is_not_toml_is_refused() {
        assert!(edit_config("deployment_mode = ", &Answers::default()).unwrap_err().contains("not valid TOML"));
    }
}
