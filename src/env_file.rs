//! `<home>/.env`: secrets such as `GITHUB_CLIENT_SECRET` and `MCP_AUTH_TOKEN`.
//!
//! Values never appear in `Debug` output or logs; only key names do.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

#[derive(Clone, Default)]
pub struct EnvFile {
    values: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error("line {line}: cannot parse `{excerpt}`")]
    Line { line: usize, excerpt: String },
    #[error("{0}")]
    Io(std::io::Error),
}

impl EnvFileError {
    /// The settings key an error is reported under.
    pub fn key(&self) -> String {
        match self {
            EnvFileError::Line { line, .. } => format!(".env line {line}"),
            EnvFileError::Io(_) => ".env".to_string(),
        }
    }
}

impl EnvFile {
    /// Reads `path`; a missing file is an empty one.
    pub fn load(path: &Path) -> Result<Self, EnvFileError> {
        let iter = match dotenvy::from_path_iter(path) {
            Ok(iter) => iter,
            Err(error) if error.not_found() => return Ok(Self::default()),
            Err(dotenvy::Error::Io(error)) => return Err(EnvFileError::Io(error)),
            Err(other) => return Err(EnvFileError::Io(std::io::Error::other(other.to_string()))),
        };
        let mut values = BTreeMap::new();
        for item in iter {
            match item {
                Ok((key, value)) => {
                    values.insert(key, value);
                }
                Err(dotenvy::Error::LineParse(line_text, _)) => {
                    let text = std::fs::read_to_string(path).map_err(EnvFileError::Io)?;
                    let line = text
                        .lines()
                        .position(|candidate| candidate.trim_end() == line_text.trim_end())
                        .map_or(0, |index| index + 1);
                    // Only the start of the line: it may hold half a secret.
                    let excerpt: String = line_text.chars().take(12).collect();
                    return Err(EnvFileError::Line { line, excerpt });
                }
                Err(dotenvy::Error::Io(error)) => return Err(EnvFileError::Io(error)),
                Err(other) => return Err(EnvFileError::Io(std::io::Error::other(other.to_string()))),
            }
        }
        Ok(Self { values })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// Adds `KEY=value` to the `.env` at `path` (atomically, mode 0600), keeping every other
/// line as it was. For secrets Luna generates itself.
pub fn append(path: &Path, key: &str, value: &str) -> std::io::Result<()> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{key}={value}\n"));
    crate::state_file::write_atomic(path, text.as_bytes(), 0o600)
}

impl fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys().map(|key| format!("{key}=***"))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_and_masks_them_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# comment\nGITHUB_CLIENT_SECRET=s3cr3t\nexport MCP_AUTH_TOKEN=\"abc\"\n").unwrap();

        let env = EnvFile::load(&path).unwrap();

        assert_eq!(env.get("GITHUB_CLIENT_SECRET"), Some("s3cr3t"));
        assert_eq!(env.get("MCP_AUTH_TOKEN"), Some("abc"));
        let debug = format!("{env:?}");
        assert!(!debug.contains("s3cr3t") && debug.contains("GITHUB_CLIENT_SECRET=***"), "{debug}");
    }

    #[test]
    fn append_keeps_the_other_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# mine\nGITHUB_CLIENT_ID=abc").unwrap();

        append(&path, "MCP_AUTH_TOKEN", "t0k3n").unwrap();

        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\nGITHUB_CLIENT_ID=abc\nMCP_AUTH_TOKEN=t0k3n\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(EnvFile::load(&path).unwrap().get("MCP_AUTH_TOKEN"), Some("t0k3n"));
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(EnvFile::load(&dir.path().join(".env")).unwrap().keys().count(), 0);
    }

    #[test]
    fn a_malformed_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "GOOD=1\nthis is not an assignment\n").unwrap();

        let error = EnvFile::load(&path).unwrap_err();

        assert!(matches!(error, EnvFileError::Line { line: 2, .. }), "{error:?}");
    }
}
