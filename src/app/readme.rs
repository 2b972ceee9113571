//! An extension's readme, for the Hub's About tab: `readme.md` (any case) at the top of its
//! folder, a regular file inside the folder (a link out is refused), at most 256 KiB.

use std::path::Path;

use serde::Serialize;

use super::{AppError, Luna};
use crate::extensions::check_name;

/// The largest readme shown.
const MAX_README_BYTES: u64 = 256 * 1024;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readme {
    /// The file's name in the extension folder.
    pub file: String,
    /// Its Markdown text, to be rendered without raw HTML.
    pub text: String,
}

impl Luna {
    pub fn extension_readme(&self, name: &str) -> Result<Readme, AppError> {
        check_name(name).map_err(AppError::Invalid)?;
        let dir = self.home.extensions_dir().join(name);
        if !dir.is_dir() {
            return Err(AppError::NotFound(format!("no extension named `{name}`")));
        }
        read_readme(&dir)?.ok_or_else(|| AppError::NotFound(format!("`{name}` has no readme.md")))
    }
}

fn read_readme(dir: &Path) -> Result<Option<Readme>, AppError> {
    let entries = std::fs::read_dir(dir).map_err(|error| AppError::Unavailable(error.to_string()))?;
    let found = entries.flatten().find(|entry| entry.file_name().to_string_lossy().eq_ignore_ascii_case("readme.md"));
    let Some(entry) = found else { return Ok(None) };
    let file = entry.file_name().to_string_lossy().into_owned();
    // `file_type` does not follow links: only a regular file in the folder itself is read.
    if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
        return Err(AppError::Conflict(format!("{file} is not a regular file of the extension")));
    }
    let size = entry.metadata().map_err(|error| AppError::Unavailable(error.to_string()))?.len();
    if size > MAX_README_BYTES {
        return Err(AppError::Conflict(format!("{file} is larger than {} KiB", MAX_README_BYTES / 1024)));
    }
    let bytes = std::fs::read(entry.path()).map_err(|error| AppError::Unavailable(error.to_string()))?;
    Ok(Some(Readme { file, text: String::from_utf8_lossy(&bytes).into_owned() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readme_is_read_in_any_case_and_a_link_out_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_readme(dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join("README.md"), "# Hello").unwrap();
        assert_eq!(read_readme(dir.path()).unwrap().unwrap().text, "# Hello");

        std::fs::remove_file(dir.path().join("README.md")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("readme.md")).unwrap();
        assert!(matches!(read_readme(dir.path()), Err(AppError::Conflict(_))));
    }
}
