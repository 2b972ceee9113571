//! `<home>/.env`: secrets such as `GITHUB_CLIENT_SECRET` and `MCP_AUTH_TOKEN`.
//!
//! Values never appear in `Debug` output or logs; only key names do. The file is read at
//! start and again after every change the Key Manager makes ([`SharedSecrets`]); edits keep
//! every other line (comments included) as it was.

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
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(EnvFileError::Io(error)),
        }
    }

    /// Reads `.env`-formatted text (the file, or an uploaded one); the error names the line.
    pub fn parse(text: &str) -> Result<Self, EnvFileError> {
        let mut values = BTreeMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            match item {
                Ok((key, value)) => {
                    values.insert(key, value);
                }
                Err(dotenvy::Error::LineParse(line_text, _)) => {
                    let line = text.lines().position(|candidate| candidate.trim_end() == line_text.trim_end());
                    // Only the start of the line: it may hold half a secret.
                    let excerpt: String = line_text.chars().take(12).collect();
                    return Err(EnvFileError::Line { line: line.map_or(0, |index| index + 1), excerpt });
                }
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

/// Sets (`Some`) or removes (`None`) keys in the `.env` at `path`, atomically (0600). The
/// last assignment of a key is replaced in place; earlier duplicates and a removed key's
/// lines go; new keys are appended. For the Key Manager and the secrets Luna generates.
pub fn edit(path: &Path, changes: &[(&str, Option<&str>)]) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error),
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (key, value) in changes {
        let positions: Vec<usize> =
            lines.iter().enumerate().filter(|(_, line)| assigned_key(line) == Some(key)).map(|(at, _)| at).collect();
        let replacement = value.map(|value| format!("{key}={}", quote(value)));
        match (positions.last(), replacement) {
            (Some(&last), Some(line)) => lines[last] = line,
            (None, Some(line)) => lines.push(line),
            _ => {}
        }
        let removed: Vec<usize> = match value {
            Some(_) => positions.iter().rev().skip(1).copied().collect(),
            None => positions.iter().rev().copied().collect(),
        };
        for at in removed {
            lines.remove(at);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    crate::state_file::write_atomic(path, out.as_bytes(), 0o600)
}

/// The key a `KEY=value` (or `export KEY=value`) line assigns.
fn assigned_key(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then_some(key)
}

/// A value as dotenv reads it back unchanged: a plain one (letters, digits, `-_./+:@`) as it
/// is; otherwise single quotes, which take everything literally; a value holding one is
/// double-quoted with `\\`, `"` and `$` escaped.
fn quote(value: &str) -> String {
    let plain = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./+:@".contains(c));
    if plain {
        return value.to_string();
    }
    if !value.contains('\'') {
        return format!("'{value}'");
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$");
    format!("\"{escaped}\"")
}

/// The current `.env`, shared: readers take a snapshot, the Key Manager swaps in a new one
/// after each write, and every process started afterwards sees it.
#[derive(Clone)]
pub struct SharedSecrets {
    current: std::sync::Arc<arc_swap::ArcSwap<EnvFile>>,
}

impl SharedSecrets {
    pub fn new(secrets: EnvFile) -> Self {
        Self { current: std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(secrets)) }
    }

    pub fn current(&self) -> std::sync::Arc<EnvFile> {
        self.current.load_full()
    }

    pub fn replace(&self, secrets: EnvFile) {
        self.current.store(std::sync::Arc::new(secrets));
    }
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
    fn a_generated_secret_is_added_keeping_the_other_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# mine\nGITHUB_CLIENT_ID=abc").unwrap();

        edit(&path, &[("MCP_AUTH_TOKEN", Some("t0k3n"))]).unwrap();

        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\nGITHUB_CLIENT_ID=abc\nMCP_AUTH_TOKEN=t0k3n\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(EnvFile::load(&path).unwrap().get("MCP_AUTH_TOKEN"), Some("t0k3n"));
    }

    #[test]
    fn edits_keep_comments_and_values_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# keys\nA=1\nexport B=2\nA=3\nC=old\n").unwrap();
        let tricky = r#"it's "$HOME" \n and more"#;

        edit(&path, &[("A", Some("new")), ("B", None), ("D", Some(tricky)), ("E", Some("p@ss word#1"))]).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# keys\nA=new\nC=old\n"), "{text}");
        let env = EnvFile::load(&path).unwrap();
        assert_eq!(env.get("A"), Some("new"));
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get("D"), Some(tricky));
        assert_eq!(env.get("E"), Some("p@ss word#1"));
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
