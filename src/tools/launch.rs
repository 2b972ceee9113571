//! Which command serves an extension's tools.
//!
//! - An extension that declares `"mcp_server": {"command": [...]}` in `config.json` runs
//!   that command: any stdio MCP server becomes a Luna extension.
//! - Otherwise, an extension with `tools/*_tools.py` runs Luna's Python tool host
//!   ([`PYTHON_TOOL_HOST`], shipped inside the binary) with the extension's `.venv`
//!   interpreter when there is one, else `python3` from `PATH`.
//! - Anything else has no tool host.

use std::path::{Path, PathBuf};

/// The stdlib-only Python tool host.
pub const PYTHON_TOOL_HOST: &str = include_str!("python_tool_host.py");

/// The command line of a tool host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// The tool host of the extension in `dir`, if it has tools. `declared` is the
/// `mcp_server.command` of its `config.json`; `path` the `PATH` its processes get.
pub fn host_command(
    dir: &Path,
    declared: Option<&[String]>,
    host_script: &Path,
    path: &str,
) -> Option<Result<HostCommand, String>> {
    if let Some(command) = declared {
        let (program, args) = command.split_first()?;
        return Some(
            resolve(dir, program, path).map(|program| HostCommand { program, args: args.to_vec() }).ok_or_else(|| {
                format!("mcp_server.command: `{program}` is not found (relative to {} or on PATH)", dir.display())
            }),
        );
    }
    if !has_python_tools(&dir.join("tools")) {
        return None;
    }
    let venv_python = dir.join(".venv/bin/python");
    let python = if venv_python.exists() { Some(venv_python) } else { search_path("python3", path) };
    Some(
        python
            .map(|program| HostCommand {
                program,
                args: vec![host_script.display().to_string(), dir.display().to_string()],
            })
            .ok_or_else(|| "python3 is not on PATH; the Python tool host needs it".to_string()),
    )
}

fn has_python_tools(tools_dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(tools_dir) else { return false };
    entries.flatten().any(|entry| entry.file_name().to_str().is_some_and(|name| name.ends_with("_tools.py")))
}

/// A program named with a `/` is relative to the extension; a bare name is looked up in
/// the extension's `.venv/bin`, then on `PATH`.
fn resolve(dir: &Path, program: &str, path: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let candidate = dir.join(program);
        return candidate.is_file().then_some(candidate);
    }
    let venv = dir.join(".venv/bin").join(program);
    if venv.is_file() {
        return Some(venv);
    }
    search_path(program, path)
}

fn search_path(program: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path).map(|dir| dir.join(program)).find(|candidate| {
        std::fs::metadata(candidate).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_tools_get_the_python_host() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("notes");
        std::fs::create_dir_all(dir.join("tools")).unwrap();
        let host = Path::new("/srv/luna/.luna/lib/luna_tool_host.py");
        assert_eq!(host_command(&dir, None, host, "/usr/bin:/bin"), None, "no *_tools.py, no host");

        std::fs::write(dir.join("tools/notes_tools.py"), "TOOLS = []\n").unwrap();
        let command = host_command(&dir, None, host, "/usr/bin:/bin").unwrap().unwrap();
        assert!(command.program.ends_with("python3"), "{command:?}");
        assert_eq!(command.args, [host.display().to_string(), dir.display().to_string()]);

        std::fs::create_dir_all(dir.join(".venv/bin")).unwrap();
        std::fs::write(dir.join(".venv/bin/python"), "").unwrap();
        let command = host_command(&dir, None, host, "/usr/bin:/bin").unwrap().unwrap();
        assert_eq!(command.program, dir.join(".venv/bin/python"));
    }

    #[test]
    fn a_declared_server_is_resolved_or_named_as_missing() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("files");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/server"), "").unwrap();
        let host = Path::new("/unused");
        let declared = ["./bin/server".to_string(), "--stdio".to_string()];
        let command = host_command(&dir, Some(&declared), host, "").unwrap().unwrap();
        assert_eq!(command, HostCommand { program: dir.join("./bin/server"), args: vec!["--stdio".into()] });

        let missing = ["no-such-mcp-server".to_string()];
        let error = host_command(&dir, Some(&missing), host, "/usr/bin").unwrap().unwrap_err();
        assert!(error.starts_with("mcp_server.command: `no-such-mcp-server` is not found"), "{error}");
    }
}
