//! Unpacking an extension archive (a GitHub tarball or an uploaded zip) into a fresh folder,
//! treating it as hostile: every entry must land inside the target, links may only point
//! down into the tree, device files and hard links are refused, and the number of entries
//! and the bytes written are capped (a zip bomb stops at the cap, whatever it declares).
//!
//! Only the extension's own folder is kept: the archive's single top folder (GitHub's
//! `owner-repo-sha/`) is dropped, and with a subpath only what is under it is unpacked.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// Caps for one archive. Extensions are source code: these leave ample room.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The archive itself (download or upload).
    pub archive_bytes: u64,
    /// Everything unpacked together.
    pub unpacked_bytes: u64,
    /// Entries in the archive (files, folders and links).
    pub entries: usize,
    /// Everything a tarball holds, kept or skipped (a subfolder of a large repository): what
    /// it costs to read it at all.
    pub scanned_bytes: u64,
}

pub const LIMITS: Limits =
    Limits { archive_bytes: 64 << 20, unpacked_bytes: 256 << 20, entries: 20_000, scanned_bytes: 1 << 30 };

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive is not acceptable; the message names the entry and why.
    #[error("{0}")]
    Refused(String),
    #[error("cannot unpack: {0}")]
    Io(#[from] io::Error),
}

fn refused(message: impl Into<String>) -> ArchiveError {
    ArchiveError::Refused(message.into())
}

/// What an entry is, as far as unpacking cares.
enum Kind {
    Dir,
    File { executable: bool },
    Symlink(PathBuf),
}

/// Writes entries under `target`, keeping count of what was written.
struct Writer<'a> {
    target: &'a Path,
    limits: Limits,
    written: u64,
    entries: usize,
    /// The archive's top folder to drop, then the subpath to keep.
    strip: Vec<String>,
}

impl Writer<'_> {
    /// The entry's place under `target`, or `None` when it lies outside the kept part.
    fn place(&mut self, name: &str) -> Result<Option<PathBuf>, ArchiveError> {
        self.entries += 1;
        if self.entries > self.limits.entries {
            return Err(refused(format!("the archive has more than {} entries", self.limits.entries)));
        }
        let relative = safe_relative(name)?;
        let mut parts = relative.iter().map(|part| part.to_string_lossy().into_owned());
        for expected in &self.strip {
            match parts.next() {
                Some(part) if &part == expected => {}
                _ => return Ok(None),
            }
        }
        let rest: PathBuf = parts.collect();
        Ok((!rest.as_os_str().is_empty()).then(|| self.target.join(rest)))
    }

    fn write(&mut self, name: &str, kind: Kind, contents: &mut dyn Read) -> Result<(), ArchiveError> {
        let Some(path) = self.place(name)? else { return Ok(()) };
        match kind {
            Kind::Dir => std::fs::create_dir_all(&path)?,
            Kind::File { executable } => {
                create_parent(&path)?;
                remove_existing(&path)?;
                let mode = if executable { 0o755 } else { 0o644 };
                let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&path)?;
                let budget = self.limits.unpacked_bytes - self.written;
                let copied = io::copy(&mut contents.take(budget + 1), &mut file)?;
                if copied > budget {
                    return Err(refused(format!(
                        "the archive unpacks to more than {} MiB",
                        self.limits.unpacked_bytes >> 20
                    )));
                }
                self.written += copied;
            }
            Kind::Symlink(link) => {
                let inside = link.is_relative() && link.components().all(|part| matches!(part, Component::Normal(_)));
                if !inside {
                    return Err(refused(format!(
                        "`{name}` is a link to `{}`: links may only point into their own folder",
                        link.display()
                    )));
                }
                create_parent(&path)?;
                remove_existing(&path)?;
                std::os::unix::fs::symlink(link, &path)?;
            }
        }
        Ok(())
    }
}

/// `name` as a relative path of plain components; anything else is refused.
fn safe_relative(name: &str) -> Result<PathBuf, ArchiveError> {
    let path = Path::new(name);
    if name.contains('\\') || name.contains('\0') {
        return Err(refused(format!("`{name}` is not a portable path")));
    }
    let mut clean = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(refused(format!("`{name}` points outside the archive (`..`)"))),
            Component::RootDir | Component::Prefix(_) => {
                return Err(refused(format!("`{name}` is an absolute path")));
            }
        }
    }
    Ok(clean)
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent),
        None => Ok(()),
    }
}

/// A later entry of the same name replaces an earlier one (as tar does); never write
/// through a link an earlier entry made.
fn remove_existing(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

fn subpath_parts(subpath: Option<&str>) -> Vec<String> {
    subpath
        .map(|path| path.split('/').filter(|part| !part.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Unpacks a gzipped tarball whose entries sit under one top folder (GitHub's archives).
pub fn unpack_tarball(archive: File, subpath: Option<&str>, target: &Path, limits: Limits) -> Result<(), ArchiveError> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut writer = Writer { target, limits, written: 0, entries: 0, strip: Vec::new() };
    let mut top: Option<String> = None;
    let mut scanned = 0u64;
    for entry in tar.entries()? {
        let mut entry = entry?;
        scanned += entry.size();
        if scanned > limits.scanned_bytes {
            return Err(refused(format!("the archive holds more than {} MiB", limits.scanned_bytes >> 20)));
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            // GitHub puts the commit id in a pax global header; it is not a file.
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                Kind::File { executable: header.mode().unwrap_or(0) & 0o111 != 0 }
            }
            tar::EntryType::Symlink => {
                Kind::Symlink(entry.link_name()?.map(|link| link.into_owned()).unwrap_or_default())
            }
            tar::EntryType::Link => {
                return Err(refused(format!("`{}` is a hard link", entry.path()?.display())));
            }
            other => {
                return Err(refused(format!("`{}` is a {other:?} entry, not a file", entry.path()?.display())));
            }
        };
        let name = entry.path()?.to_string_lossy().into_owned();
        let first = safe_relative(&name)?.iter().next().map(|part| part.to_string_lossy().into_owned());
        let Some(first) = first else { continue };
        match &top {
            None => {
                top = Some(first.clone());
                writer.strip = std::iter::once(first).chain(subpath_parts(subpath)).collect();
            }
            Some(top) if *top != first => {
                return Err(refused(format!("`{name}` is outside the archive's top folder `{top}`")));
            }
            Some(_) => {}
        }
        writer.write(&name, kind, &mut entry)?;
    }
    Ok(())
}

/// Unpacks a zip. Its entries may sit at the top or under one folder (as "compress this
/// folder" makes them); that folder is dropped, and its name returned.
pub fn unpack_zip(archive: File, target: &Path, limits: Limits) -> Result<Option<String>, ArchiveError> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|error| refused(format!("not a readable zip: {error}")))?;
    if zip.len() > limits.entries {
        return Err(refused(format!("the archive has {} entries, more than {}", zip.len(), limits.entries)));
    }
    let names = zip
        .file_names()
        .map(|name| name.map(|name| name.into_owned()))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|error| refused(format!("an entry's name is unreadable: {error}")))?;
    let top = single_top_folder(&names)?;
    let mut writer = Writer { target, limits, written: 0, entries: 0, strip: top.iter().cloned().collect() };
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|error| refused(format!("entry {index}: {error}")))?;
        let name = entry.name().map_err(|error| refused(format!("entry {index}: {error}")))?.into_owned();
        let mode = entry.unix_mode().unwrap_or(0o644);
        let kind = match mode & 0o170000 {
            _ if entry.is_dir() => Kind::Dir,
            _ if entry.is_symlink() => {
                let mut link = String::new();
                entry.by_ref().take(4096).read_to_string(&mut link)?;
                Kind::Symlink(PathBuf::from(link))
            }
            0 | 0o100000 => Kind::File { executable: mode & 0o111 != 0 },
            _ => return Err(refused(format!("`{name}` is a device or special file"))),
        };
        writer.write(&name, kind, &mut entry)?;
    }
    std::fs::create_dir_all(target)?;
    Ok(top)
}

/// Copies the folder `from` (a local source) under the same rules and caps as an archive.
/// What every install rebuilds (`.venv`, `ui/node_modules`, `.git`) is left behind.
pub fn copy_folder(from: &Path, target: &Path, limits: Limits) -> Result<(), ArchiveError> {
    let mut writer = Writer { target, limits, written: 0, entries: 0, strip: Vec::new() };
    std::fs::create_dir_all(target)?;
    copy_tree(from, Path::new(""), &mut writer)
}

fn copy_tree(root: &Path, relative: &Path, writer: &mut Writer<'_>) -> Result<(), ArchiveError> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries = std::fs::read_dir(root.join(relative))?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = relative.join(entry.file_name());
        if [".venv", ".git", "ui/node_modules"].iter().any(|skipped| name == Path::new(skipped)) {
            continue;
        }
        let text = name.to_string_lossy().into_owned();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            writer.write(&text, Kind::Dir, &mut io::empty())?;
            copy_tree(root, &name, writer)?;
        } else if file_type.is_symlink() {
            writer.write(&text, Kind::Symlink(std::fs::read_link(entry.path())?), &mut io::empty())?;
        } else if file_type.is_file() {
            let executable = entry.metadata()?.permissions().mode() & 0o111 != 0;
            writer.write(&text, Kind::File { executable }, &mut File::open(entry.path())?)?;
        } else {
            return Err(refused(format!("`{text}` is a device or special file")));
        }
    }
    Ok(())
}

/// The folder every entry lies under, if there is one.
fn single_top_folder(names: &[String]) -> Result<Option<String>, ArchiveError> {
    let mut top: Option<String> = None;
    for name in names {
        let relative = safe_relative(name)?;
        let mut parts = relative.iter();
        let Some(first) = parts.next() else { continue };
        let is_top_level_file = parts.next().is_none() && !name.ends_with('/');
        let first = first.to_string_lossy().into_owned();
        if is_top_level_file || top.as_ref().is_some_and(|top| *top != first) {
            return Ok(None);
        }
        top = Some(first);
    }
    Ok(top)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, Write};

    use super::*;

    fn zip_of(entries: &[(&str, &[u8], Option<u32>)]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        {
            let mut zip = zip::ZipWriter::new(&mut file);
            for (name, contents, mode) in entries {
                let options = zip::write::SimpleFileOptions::default().unix_permissions(mode.unwrap_or(0o644));
                if let Some(link) = name.strip_prefix("link:") {
                    let (name, target) = link.split_once("->").unwrap();
                    zip.add_symlink(name, target, options).unwrap();
                } else {
                    zip.start_file(*name, options).unwrap();
                    zip.write_all(contents).unwrap();
                }
            }
            zip.finish().unwrap();
        }
        file.rewind().unwrap();
        file
    }

    fn tarball_of(entries: &[(&str, &[u8])]) -> File {
        let mut file = tempfile::tempfile().unwrap();
        {
            let gz = flate2::write::GzEncoder::new(&mut file, flate2::Compression::fast());
            let mut tar = tar::Builder::new(gz);
            for (name, contents) in entries {
                let mut header = tar::Header::new_gnu();
                header.set_size(contents.len() as u64);
                header.set_mode(if name.ends_with(".sh") { 0o755 } else { 0o644 });
                header.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut header, name, *contents).unwrap();
            }
            tar.into_inner().unwrap().finish().unwrap();
        }
        file.rewind().unwrap();
        file
    }

    fn refusal<T: std::fmt::Debug>(result: Result<T, ArchiveError>) -> String {
        match result {
            Err(ArchiveError::Refused(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_tarball_keeps_only_the_subfolder_and_the_executable_bit() {
        let target = tempfile::tempdir().unwrap();
        let tarball = tarball_of(&[
            ("octo-repo-abc123/README.md", b"top"),
            ("octo-repo-abc123/exts/notes/config.json", b"{}"),
            ("octo-repo-abc123/exts/notes/ui/start.sh", b"#!/bin/sh\n"),
            ("octo-repo-abc123/exts/other/config.json", b"{}"),
        ]);

        unpack_tarball(tarball, Some("exts/notes"), target.path(), LIMITS).unwrap();

        assert_eq!(std::fs::read_to_string(target.path().join("config.json")).unwrap(), "{}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(target.path().join("ui/start.sh")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(!target.path().join("README.md").exists() && !target.path().join("other").exists());
    }

    #[test]
    fn hard_links_and_device_files_in_a_tarball_are_refused() {
        for (kind, expected) in [(tar::EntryType::Link, "is a hard link"), (tar::EntryType::Char, "not a file")] {
            let mut file = tempfile::tempfile().unwrap();
            {
                let gz = flate2::write::GzEncoder::new(&mut file, flate2::Compression::fast());
                let mut tar = tar::Builder::new(gz);
                let mut header = tar::Header::new_gnu();
                header.set_size(0);
                header.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut header, "top/config.json", std::io::empty()).unwrap();
                let mut special = tar::Header::new_gnu();
                special.set_size(0);
                special.set_entry_type(kind);
                special.set_link_name("/etc/shadow").unwrap();
                tar.append_data(&mut special, "top/evil", std::io::empty()).unwrap();
                tar.into_inner().unwrap().finish().unwrap();
            }
            file.rewind().unwrap();
            let target = tempfile::tempdir().unwrap();

            let message = refusal(unpack_tarball(file, None, target.path(), LIMITS));

            assert!(message.contains(expected), "{message}");
            assert!(!target.path().join("evil").exists());
        }
    }

    #[test]
    fn what_a_tarball_skips_counts_against_the_reading_cap() {
        let big = vec![7u8; 2 << 20];
        let tarball = tarball_of(&[("top/other/big.bin", &big), ("top/ext/config.json", b"{}")]);
        let tight = Limits { scanned_bytes: 1 << 20, ..LIMITS };

        let message = refusal(unpack_tarball(tarball, Some("ext"), tempfile::tempdir().unwrap().path(), tight));

        assert!(message.contains("holds more than 1 MiB"), "{message}");
    }

    #[test]
    fn a_zip_under_one_folder_or_at_the_top_unpacks_the_same() {
        for prefix in ["", "hello/"] {
            let target = tempfile::tempdir().unwrap();
            let config = format!("{prefix}config.json");
            let tool = format!("{prefix}tools/hello_tools.py");
            let zip = zip_of(&[(&config, b"{}", None), (&tool, b"def x(): pass", None)]);

            let top = unpack_zip(zip, target.path(), LIMITS).unwrap();

            assert_eq!(top.as_deref(), prefix.strip_suffix('/'));
            assert!(target.path().join("config.json").is_file(), "prefix {prefix:?}");
            assert!(target.path().join("tools/hello_tools.py").is_file(), "prefix {prefix:?}");
        }
    }

    #[test]
    fn entries_reaching_outside_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        for (name, expected) in [("../evil.sh", "`..`"), ("/etc/evil", "absolute"), ("a/../../evil", "`..`")] {
            let target = outside.path().join("target");
            let zip = zip_of(&[("config.json", b"{}", None), (name, b"x", None)]);
            let message = refusal(unpack_zip(zip, &target, LIMITS));
            assert!(message.contains(expected), "{name}: {message}");
        }
        assert!(!outside.path().join("evil.sh").exists() && !outside.path().join("evil").exists());
    }

    #[test]
    fn links_may_only_point_down() {
        let target = tempfile::tempdir().unwrap();
        let ok = zip_of(&[("config.json", b"{}", None), ("link:docs->config.json", b"", None)]);
        unpack_zip(ok, target.path(), LIMITS).unwrap();
        assert_eq!(std::fs::read_link(target.path().join("docs")).unwrap(), Path::new("config.json"));

        for link in ["link:escape->../../etc/passwd", "link:escape->/etc/passwd"] {
            let target = tempfile::tempdir().unwrap();
            let zip = zip_of(&[("config.json", b"{}", None), (link, b"", None)]);
            let message = refusal(unpack_zip(zip, target.path(), LIMITS));
            assert!(message.contains("links may only point into their own folder"), "{message}");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap_and_too_many_entries_are_refused() {
        let target = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 4 << 20];
        let zip = zip_of(&[("config.json", b"{}", None), ("big.bin", &zeros, None)]);
        let small = Limits { unpacked_bytes: 1 << 20, ..LIMITS };
        assert!(refusal(unpack_zip(zip, target.path(), small)).contains("more than 1 MiB"));

        let names: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
        let entries: Vec<(&str, &[u8], Option<u32>)> = names.iter().map(|n| (n.as_str(), &b""[..], None)).collect();
        let few = Limits { entries: 20, ..LIMITS };
        let message = refusal(unpack_zip(zip_of(&entries), tempfile::tempdir().unwrap().path(), few));
        assert!(message.contains("30 entries, more than 20"), "{message}");
    }
}
