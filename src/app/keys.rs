//! The Key Manager: the owner's keys in `.env`, masked, with what each extension requires.
//! A change is written atomically (0600), swapped into [`SharedSecrets`] so every process
//! started afterwards gets it, and answered with the running processes that would need a
//! restart to see it. Luna's own secrets are neither shown nor changed here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{AppError, Luna};
use crate::env_file::{EnvFile, edit};
use crate::supervisor::Status;
use crate::supervisor::child_env::is_lunas_own;

/// Longest value a key may hold.
const MAX_VALUE_BYTES: usize = 16 * 1024;

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct KeysReport {
    /// Every key the owner set, values masked.
    pub keys: Vec<KeyView>,
    /// Per extension: the keys its `config.json` requires, and whether each is set.
    pub required: Vec<Requirement>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct KeyView {
    pub name: String,
    /// `sk-…abc`: enough to recognise a key, never enough to use it.
    pub masked: String,
    /// Extensions that require it; empty for a custom key.
    pub required_by: Vec<String>,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Requirement {
    pub extension: String,
    pub key: String,
    pub set: bool,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct KeyChange {
    /// The keys written (set or deleted).
    pub changed: Vec<String>,
    /// Running processes that were started before the change and see the old value until
    /// they restart.
    pub restart_needed: Vec<String>,
}

/// `sk-…abc` for a long value (20 characters or more: API keys); a shorter one, which may be
/// a password, shows nothing of itself.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 20 {
        return "•".repeat(chars.len().clamp(1, 8));
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}…{tail}")
}

fn check_key(key: &str) -> Result<(), AppError> {
    let valid = !key.is_empty()
        && key.len() <= 128
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(AppError::Invalid(format!(
            "`{key:.64}` is not a key name: use letters, digits and `_`, not starting with a digit"
        )));
    }
    if is_lunas_own(key) {
        return Err(AppError::Conflict(format!("`{key}` is Luna's own secret; the Key Manager does not change it")));
    }
    Ok(())
}

/// dotenv replaces `$NAME` and `${NAME}` outside single quotes with variables of Luna's own
/// environment: an uploaded file could copy a secret of Luna's into a key every extension
/// gets. Such a value must be single-quoted (taken literally).
fn refuse_substitution(text: &str) -> Result<(), AppError> {
    for (number, line) in text.lines().enumerate() {
        let Some((_, value)) = line.split_once('=') else { continue };
        if line.trim_start().starts_with('#') {
            continue;
        }
        let value = value.trim_start();
        if !value.starts_with('\'') && value.contains('$') {
            return Err(AppError::Invalid(format!(
                "uploaded .env line {}: `$` would be replaced by another variable; put the value in single quotes",
                number + 1
            )));
        }
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> Result<(), AppError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(AppError::Invalid(format!("the value of `{key}` is longer than {MAX_VALUE_BYTES} bytes")));
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err(AppError::Invalid(format!("the value of `{key}` must be one line")));
    }
    Ok(())
}

impl Luna {
    pub async fn keys(&self) -> Result<KeysReport, AppError> {
        let secrets = self.secrets.current();
        let extensions = self.supervisor.extensions().await?;
        let mut required_by: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut required = Vec::new();
        for extension in &extensions {
            for key in &extension.required_secrets {
                required_by.entry(key.as_str()).or_default().push(extension.name.clone());
                let set = secrets.get(key).is_some_and(|value| !value.is_empty());
                required.push(Requirement { extension: extension.name.clone(), key: key.clone(), set });
            }
        }
        let keys = secrets
            .keys()
            .filter(|key| !is_lunas_own(key))
            .map(|key| KeyView {
                name: key.to_string(),
                masked: mask(secrets.get(key).unwrap_or_default()),
                required_by: required_by.get(key).cloned().unwrap_or_default(),
            })
            .collect();
        Ok(KeysReport { keys, required })
    }

    pub async fn set_key(&self, key: &str, value: &str) -> Result<KeyChange, AppError> {
        check_key(key)?;
        check_value(key, value)?;
        self.change_keys(&[(key, Some(value))]).await
    }

    pub async fn delete_key(&self, key: &str) -> Result<KeyChange, AppError> {
        check_key(key)?;
        if self.secrets.current().get(key).is_none() {
            return Err(AppError::NotFound(format!("no key named `{key}`")));
        }
        self.change_keys(&[(key, None)]).await
    }

    /// Merges an uploaded `.env`: its keys override the ones set. One bad line or one of
    /// Luna's own keys refuses the whole file, so nothing is half-imported.
    pub async fn import_keys(&self, text: &str) -> Result<KeyChange, AppError> {
        refuse_substitution(text)?;
        let uploaded = EnvFile::parse(text).map_err(|error| AppError::Invalid(format!("uploaded .env: {error}")))?;
        let mut changes = Vec::new();
        for key in uploaded.keys() {
            let value = uploaded.get(key).unwrap_or_default();
            check_key(key).map_err(|error| AppError::Invalid(format!("uploaded .env: {error}")))?;
            check_value(key, value)?;
            changes.push((key, Some(value)));
        }
        if changes.is_empty() {
            return Err(AppError::Invalid("the uploaded .env sets no keys".into()));
        }
        self.change_keys(&changes).await
    }

    /// Writes `changes` to `.env` and makes them current. The callers check the keys.
    pub(super) async fn write_env(&self, changes: &[(&str, Option<&str>)]) -> Result<(), AppError> {
        let path = self.home.env_file();
        // One writer at a time: each edit reads the file the previous one wrote.
        let _writing = self.keys_lock.lock().await;
        edit(&path, changes).map_err(|error| AppError::Unavailable(format!("cannot write .env: {error}")))?;
        let reread = EnvFile::load(&path).map_err(|error| AppError::Unavailable(format!(".env: {error}")))?;
        self.secrets.replace(reread);
        Ok(())
    }

    async fn change_keys(&self, changes: &[(&str, Option<&str>)]) -> Result<KeyChange, AppError> {
        self.write_env(changes).await?;
        self.events.publish(crate::events::Topic::Extensions);
        let changed: Vec<String> = changes.iter().map(|(key, _)| key.to_string()).collect();
        tracing::info!(keys = ?changed, "keys changed");
        let extensions = self.supervisor.extensions().await?;
        let affected: Vec<&str> = extensions
            .iter()
            .filter(|extension| extension.required_secrets.iter().any(|key| changed.contains(key)))
            .map(|extension| extension.name.as_str())
            .collect();
        let services = self.supervisor.services().await?;
        let restart_needed = services
            .services
            .iter()
            .filter(|(_, record)| affected.contains(&record.extension.as_str()))
            .filter(|(_, record)| matches!(record.status, Status::Running | Status::Starting | Status::Unhealthy))
            .map(|(key, _)| key.clone())
            .collect();
        Ok(KeyChange { changed, restart_needed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_the_ends_of_long_values_only() {
        assert_eq!(mask("sk-proj-0123456789abc"), "sk-…abc");
        assert_eq!(mask("short"), "•••••");
        assert_eq!(mask("hunter2hunter2"), "••••••••", "a password shows nothing");
    }

    #[test]
    fn lunas_own_and_malformed_keys_are_refused() {
        for own in ["MCP_AUTH_TOKEN", "GITHUB_CLIENT_SECRET", "LUNA_PORTS"] {
            assert!(matches!(check_key(own), Err(AppError::Conflict(_))), "{own}");
        }
        for bad in ["", "1ABC", "A-B", "A B", "A=B"] {
            assert!(matches!(check_key(bad), Err(AppError::Invalid(_))), "{bad:?}");
        }
        assert!(check_key("OPENAI_API_KEY").is_ok());
        assert!(refuse_substitution("X=${GITHUB_CLIENT_SECRET}\n").is_err());
        assert!(refuse_substitution("X=\"a$HOME\"\n").is_err());
        assert!(refuse_substitution("# $comment\nX='literal $dollar'\nY=plain\n").is_ok());
        assert!(check_value("K", "two\nlines").is_err());
    }
}
