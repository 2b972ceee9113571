//! An extension's dependencies, installed into its staged folder before it is swapped in:
//! `requirements.txt` (the extension's and each service's) into the extension's own `.venv`
//! with pip, `ui/package.json` with its lockfile through `npm ci`.
//!
//! pip, not uv: it comes with Python, so installing an extension needs nothing Luna does not
//! already need. When the system Python has pip ≥ 22.3, the venv is made without its own pip
//! and that pip installs into it (`--python`): 0.1 s instead of 4 s for seeding pip into
//! every venv. A venv records its own path in its scripts, and the folder moves after the
//! install; the scripts are pointed at the final place before the move.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

/// One installer run may take this long.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// Environment variables (by prefix) an installer gets besides the basic ones: its own
/// configuration (index, registry, proxy, CA bundle).
const INSTALLER_SETTINGS: &[&str] = &[
    "PIP_",
    "UV_",
    "NPM_CONFIG_",
    "npm_config_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_",
    "REQUESTS_CA_BUNDLE",
];
/// Lines of installer output kept for the error message.
const KEPT_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
#[error("{step} failed: {detail}")]
pub struct DependencyError {
    pub step: String,
    pub detail: String,
}

/// What there is to install in an extension folder.
pub fn planned(dir: &Path) -> Vec<String> {
    let mut steps = Vec::new();
    if !requirement_files(dir).is_empty() {
        steps.push("pip install -r requirements.txt".to_string());
    }
    if dir.join("ui/package.json").is_file() {
        steps.push("npm ci (ui/)".to_string());
    }
    steps
}

fn requirement_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![dir.join("requirements.txt")];
    if let Ok(services) = std::fs::read_dir(dir.join("services")) {
        let mut more: Vec<PathBuf> = services.flatten().map(|entry| entry.path().join("requirements.txt")).collect();
        more.sort();
        files.extend(more);
    }
    files.retain(|file| file.is_file());
    files
}

/// Installs everything [`planned`] lists in `dir`, which will live at `final_dir`. Each
/// output line of the installers goes to `output`.
pub async fn install(dir: &Path, final_dir: &Path, output: &(dyn Fn(&str) + Sync)) -> Result<(), DependencyError> {
    let requirements = requirement_files(dir);
    if !requirements.is_empty() {
        let venv = dir.join(".venv");
        let python = venv.join("bin/python").display().to_string();
        let system_pip = system_pip_can_target_a_venv().await;
        let venv_args: &[&str] =
            if system_pip { &["-m", "venv", "--without-pip", ".venv"] } else { &["-m", "venv", ".venv"] };
        run("python3 -m venv", dir, "python3", venv_args, output).await?;
        let (program, mut pip) = if system_pip {
            ("python3", vec!["-m", "pip", "--python", python.as_str()])
        } else {
            (python.as_str(), vec!["-m", "pip"])
        };
        pip.extend(["install", "--disable-pip-version-check", "--no-input", "-r"]);
        for file in &requirements {
            let relative = file.strip_prefix(dir).unwrap_or(file).display().to_string();
            let step = format!("pip install -r {relative}");
            let args: Vec<&str> = pip.iter().copied().chain([relative.as_str()]).collect();
            run(&step, dir, program, &args, output).await?;
        }
        repoint_scripts(&venv, &final_dir.join(".venv"))
            .map_err(|error| DependencyError { step: "fixing .venv scripts".into(), detail: error.to_string() })?;
    }
    let ui = dir.join("ui");
    if ui.join("package.json").is_file() {
        if !ui.join("package-lock.json").is_file() {
            return Err(DependencyError {
                step: "npm ci (ui/)".into(),
                detail: "ui/package-lock.json is missing; Luna installs UI packages only from a lockfile".into(),
            });
        }
        run("npm ci (ui/)", &ui, "npm", &["ci", "--no-audit", "--no-fund"], output).await?;
    }
    Ok(())
}

/// Whether `python3 -m pip` is there and new enough (22.3) for `--python`.
async fn system_pip_can_target_a_venv() -> bool {
    let answer = tokio::process::Command::new("python3")
        .args(["-m", "pip", "--version"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await;
    let Ok(answer) = answer else { return false };
    let text = String::from_utf8_lossy(&answer.stdout);
    let version = text.strip_prefix("pip ").and_then(|rest| rest.split_whitespace().next()).unwrap_or("");
    let mut parts = version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    answer.status.success() && (major, minor) >= (22, 3)
}

/// Runs one installer in `cwd`, streaming its output; its last lines explain a failure.
async fn run(
    step: &str,
    cwd: &Path,
    program: &str,
    args: &[&str],
    output: &(dyn Fn(&str) + Sync),
) -> Result<(), DependencyError> {
    let failed = |detail: String| DependencyError { step: step.to_string(), detail };
    output(&format!("$ {step}"));
    let mut command = tokio::process::Command::new(program);
    // An installer runs the package's own code (build scripts, lifecycle scripts): it gets no
    // more of Luna's environment than an extension does, plus the installers' own settings.
    let passed = std::env::vars().filter(|(key, _)| {
        crate::supervisor::child_env::INHERITED.contains(&key.as_str())
            || INSTALLER_SETTINGS.iter().any(|prefix| key.starts_with(prefix))
    });
    command
        .env_clear()
        .envs(passed)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("PIP_NO_COLOR", "1")
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|error| failed(format!("cannot run `{program}`: {error}")))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let kept = std::sync::Mutex::new(std::collections::VecDeque::new());
    let keep = |line: String| {
        output(&line);
        let mut kept = kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.len() == KEPT_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    };
    let read = async {
        tokio::join!(pump(stdout, &keep), pump(stderr, &keep));
        child.wait().await
    };
    let status = match tokio::time::timeout(INSTALL_TIMEOUT, read).await {
        Err(_) => return Err(failed(format!("did not finish within {} s", INSTALL_TIMEOUT.as_secs()))),
        Ok(Err(error)) => return Err(failed(error.to_string())),
        Ok(Ok(status)) => status,
    };
    if status.success() {
        return Ok(());
    }
    let tail: Vec<String> = kept.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()).into();
    Err(failed(format!("exit {}: {}", status.code().unwrap_or(-1), tail.join("\n"))))
}

async fn pump(pipe: Option<impl tokio::io::AsyncRead + Unpin>, keep: &(dyn Fn(String) + Sync)) {
    let Some(pipe) = pipe else { return };
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        keep(line);
    }
}

/// Rewrites `#!<staged venv>/bin/...` first lines in the venv's scripts to the final venv.
fn repoint_scripts(staged: &Path, final_venv: &Path) -> std::io::Result<()> {
    let old = format!("#!{}/", staged.display());
    let new = format!("#!{}/", final_venv.display());
    for entry in std::fs::read_dir(staged.join("bin"))?.flatten() {
        let path = entry.path();
        if !entry.file_type()?.is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if let Some(rest) = text.strip_prefix(&old) {
            std::fs::write(&path, format!("{new}{rest}"))?;
        }
        // The activate scripts name the venv in a variable, not in a first line.
        else if path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("activate")) {
            let (from, to) = (staged.display().to_string(), final_venv.display().to_string());
            std::fs::write(&path, text.replace(&from, &to))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ui_installs_from_its_lockfile_and_one_without_a_lockfile_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ui = dir.path().join("ui");
        std::fs::create_dir_all(&ui).unwrap();
        std::fs::write(ui.join("package.json"), r#"{"name": "ext-ui", "version": "1.0.0"}"#).unwrap();
        let missing = install(dir.path(), dir.path(), &|_| {}).await.unwrap_err();
        assert!(missing.detail.contains("ui/package-lock.json is missing"), "{missing}");

        let lock = r#"{"name": "ext-ui", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
            "packages": {"": {"name": "ext-ui", "version": "1.0.0"}}}"#;
        std::fs::write(ui.join("package-lock.json"), lock).unwrap();
        let lines = std::sync::Mutex::new(Vec::new());
        install(dir.path(), dir.path(), &|line| lines.lock().unwrap().push(line.to_string())).await.unwrap();

        assert_eq!(lines.lock().unwrap()[0], "$ npm ci (ui/)");
        assert_eq!(planned(dir.path()), ["npm ci (ui/)"]);
    }
}
