//! Atomic writes for state files: temp file in the same directory, fsync, rename, fsync
//! of the directory. A reader (or a crash) sees the old file or the new one, never half of
//! either.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;

/// Replaces `path` with `contents`. `mode` applies to the new file (0600 for secrets).
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name =
        path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".tmp.{}", std::process::id()));
    let temp_path = dir.join(temp_name);

    let result = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&temp_path)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp_path, path)?;
        // The rename is durable only once the directory entry is.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp_path);
    }
    result
}

/// Creates `dir` (and its parents) owner-only, 0700; an older directory is tightened.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // `mode` only applies to directories the call creates.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Takes group and other permissions away from everything under `dir` (files 0600 or 0700
/// if executable by the owner, folders 0700). Symbolic links are left alone, never followed.
/// What cannot be changed (another user's file) is logged and skipped: it must not stop a start.
pub fn make_private(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let metadata = std::fs::symlink_metadata(&path)?;
        if metadata.is_dir()
            && let Err(error) = make_private(&path)
        {
            tracing::warn!(path = %path.display(), %error, "cannot look into this folder to make it private");
        }
        let mode = metadata.permissions().mode() & 0o777;
        if !metadata.file_type().is_symlink()
            && mode & 0o077 != 0
            && let Err(error) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700))
        {
            tracing::warn!(path = %path.display(), %error, "others can read this file and Luna cannot change that");
        }
    }
    Ok(())
}

/// [`write_atomic`] for a pretty-printed JSON document, mode 0600.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "old").unwrap();

        write_json_atomic(&path, &serde_json::json!({"services": {}})).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["services"], serde_json::json!({}));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn applies_the_requested_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_atomic(&path, b"x", 0o600).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn private_takes_group_and_other_permissions_away_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("logs");
        std::fs::create_dir(&nested).unwrap();
        std::fs::write(nested.join("a.log"), "x").unwrap();
        std::fs::write(dir.path().join("state.json"), "{}").unwrap();
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(nested.join("a.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path().join("state.json"), std::fs::Permissions::from_mode(0o666)).unwrap();

        make_private(dir.path()).unwrap();

        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&nested.join("a.log")), 0o600);
        assert_eq!(mode(&dir.path().join("state.json")), 0o600);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory in the way makes the rename fail after the temp file was written.
        let path = dir.path().join("occupied");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "kept").unwrap();

        assert!(write_atomic(&path, b"new", 0o644).is_err());

        assert_eq!(std::fs::read_to_string(path.join("keep")).unwrap(), "kept");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temp file removed");
    }
}
