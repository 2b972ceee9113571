//! Checks of this machine: the listeners' ports, the home's disk and its file modes.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Check, Doctor, Running};
use crate::home::LunaHome;

/// Below this much free space Luna's writes (database, logs, state) start failing.
const DISK_FAIL_BYTES: u64 = 512 * 1024 * 1024;
const DISK_WARN_BYTES: u64 = 2 * 1024 * 1024 * 1024;
const GIB: f64 = (1024 * 1024 * 1024) as f64;

/// Each listener's port: free while Luna is stopped, Luna's own while it runs.
pub fn ports(doctor: &Doctor, running: Option<&Running>) -> Vec<Check> {
    let listeners = [
        ("port_http", Some(doctor.http_listen), "server.http_listen"),
        ("port_https", doctor.https_listen, "server.https_listen"),
    ];
    listeners
        .into_iter()
        .filter_map(|(id, listen, setting)| listen.map(|listen| port(id, listen, setting, running)))
        .collect()
}

fn port(id: &str, listen: SocketAddr, setting: &str, running: Option<&Running>) -> Check {
    let owner = crate::sys::port_owner(listen.port());
    let luna = running.map(|running| running.status.pid);
    match (owner, luna) {
        (Some(owner), Some(pid)) if owner.pid == pid => Check::ok(id, format!("{listen}: Luna listens (pid {pid})")),
        // Luna started, so it holds its listener; /proc only hides who that is.
        (None, Some(_)) => Check::ok(id, format!("{listen}: Luna listens")),
        (Some(owner), _) => Check::fail(
            id,
            format!("{listen}: port {} is held by pid {} ({})", listen.port(), owner.pid, owner.command),
            format!(
                "stop {} (e.g. `sudo systemctl stop {}`), or set {setting} to a free port",
                owner.command, owner.command
            ),
        ),
        (None, None) if crate::sys::is_listening(listen.port()) => Check::fail(
            id,
            format!("{listen}: port {} is held by a process this user cannot see", listen.port()),
            format!("`sudo ss -ltnp 'sport = :{}'` shows who; stop it, or set {setting} to a free port", listen.port()),
        ),
        (None, None) => Check::ok(id, format!("{listen}: free")),
    }
}

pub fn disk(home: &LunaHome) -> Check {
    const ID: &str = "disk";
    let (free, total) = match crate::sys::disk_space(home.root()) {
        Ok(space) => space,
        Err(error) => {
            return Check::warn(
                ID,
                format!("cannot read the free space of {}: {error}", home.root().display()),
                "check the disk with `df -h`",
            );
        }
    };
    let summary =
        format!("{:.1} GiB free of {:.1} GiB ({})", free as f64 / GIB, total as f64 / GIB, home.root().display());
    let advice = "free some space (old logs: `journalctl --vacuum-size=200M`; unused images: `docker image prune`)";
    if free < DISK_FAIL_BYTES {
        Check::fail(ID, summary, advice)
    } else if free < DISK_WARN_BYTES || free.saturating_mul(20) < total {
        Check::warn(ID, summary, advice)
    } else {
        Check::ok(ID, summary)
    }
}

/// Secrets readable by nobody but Luna's user, and nothing others can rewrite.
pub fn files(home: &LunaHome) -> Check {
    const ID: &str = "files";
    let root = home.root();
    let Ok(home_meta) = std::fs::metadata(root) else {
        return Check::fail(ID, format!("{} cannot be read", root.display()), "check the home's owner and mode");
    };
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    let writable_by_others = |path: &Path| mode(path).is_some_and(|mode| mode & 0o022 != 0);
    for path in [root.to_path_buf(), root.join("config"), home.default_config_file(), home.extensions_dir()] {
        if writable_by_others(&path) {
            problems.push(format!("{} is writable by others", path.display()));
            fixes.push(format!("chmod go-w {}", path.display()));
        }
    }
    let mut secrets = vec![home.env_file(), home.state_dir(), home.cookie_key_file(), home.identity_key_file()];
    // `certs/` of a checkout is an empty folder until an HTTPS mode puts keys there (and Luna
    // makes it 0700 then): only a folder with keys is a secret.
    let keys = private_keys(&home.certs_dir());
    if !keys.is_empty() {
        secrets.push(home.certs_dir());
    }
    secrets.extend(keys);
    for path in secrets {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.mode() & 0o077 != 0 {
            problems.push(format!("{} is readable by others (mode {:o})", path.display(), meta.mode() & 0o777));
            fixes.push(format!("chmod {} {}", if meta.is_dir() { "700" } else { "600" }, path.display()));
        }
        if meta.uid() != home_meta.uid() {
            problems.push(format!(
                "{} belongs to uid {}, the home to uid {}",
                path.display(),
                meta.uid(),
                home_meta.uid()
            ));
            fixes.push(format!("chown -R {}: {}", home_meta.uid(), path.display()));
        }
    }
    if problems.is_empty() {
        Check::ok(ID, format!("{}: secrets are private to its owner (uid {})", root.display(), home_meta.uid()))
    } else {
        Check::fail(ID, problems.join("; "), fixes.join(" && "))
    }
}

fn mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path).ok().map(|meta| meta.mode())
}

/// `privkey.pem` files below `certs/` (the self-signed one, one per ACME host).
fn private_keys(certs: &Path) -> Vec<PathBuf> {
    let mut keys = Vec::new();
    let mut pending = vec![certs.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && keys.len() < 64 => pending.push(path),
                Ok(kind) if kind.is_file() && path.file_name().is_some_and(|name| name == "privkey.pem") => {
                    keys.push(path)
                }
                _ => {}
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn secrets_others_can_read_fail_with_the_command_that_fixes_them() {
        let dir = tempfile::tempdir().unwrap();
        let home = LunaHome::new(dir.path());
        std::fs::write(home.env_file(), "A=1\n").unwrap();
        std::fs::set_permissions(home.env_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(files(&home).status, super::super::CheckStatus::Ok, "{:?}", files(&home));

        // A checkout's empty `certs/` is no secret; one that holds keys is.
        let mode =
            |path: &Path, mode: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        std::fs::create_dir_all(home.certs_dir().join("self-signed")).unwrap();
        mode(&home.certs_dir(), 0o755);
        assert_eq!(files(&home).status, super::super::CheckStatus::Ok, "{:?}", files(&home));
        let key = home.certs_dir().join("self-signed/privkey.pem");
        std::fs::write(&key, "key").unwrap();
        mode(&key, 0o600);
        assert!(files(&home).summary.contains("certs is readable by others"), "{:?}", files(&home));
        mode(&home.certs_dir(), 0o700);
        assert_eq!(files(&home).status, super::super::CheckStatus::Ok, "{:?}", files(&home));

        std::fs::set_permissions(home.env_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let check = files(&home);
        assert_eq!(check.status, super::super::CheckStatus::Fail);
        assert!(check.summary.contains(".env is readable by others (mode 644)"), "{}", check.summary);
        assert_eq!(check.advice.unwrap(), format!("chmod 600 {}", home.env_file().display()));
    }
}
