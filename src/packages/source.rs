//! Where an extension comes from: `github:owner/repo[:path][@ref]`, `upload:<id>` (a zip
//! uploaded before) or `local:/absolute/folder`. The text form is what `master_config.json`
//! records as `source` (without the ref, which is recorded beside it).

use std::fmt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Github(GithubSource),
    /// An archive uploaded through the API, by the id the upload answered.
    Upload(String),
    /// A folder on Luna's own machine, copied in.
    Local(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubSource {
    pub owner: String,
    pub repo: String,
    /// The extension's folder inside the repository, for a repository holding several.
    pub path: Option<String>,
    /// A branch, tag or commit; `None` is the repository's default branch.
    pub reference: Option<String>,
}

impl Source {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("github:") {
            return GithubSource::parse(rest).map(Source::Github);
        }
        if let Some(id) = text.strip_prefix("upload:") {
            check_upload_id(id)?;
            return Ok(Source::Upload(id.to_string()));
        }
        if let Some(path) = text.strip_prefix("local:") {
            let path = Path::new(path);
            if !path.is_absolute() {
                return Err(format!("`{text}`: a local folder must be given as an absolute path"));
            }
            return Ok(Source::Local(path.to_path_buf()));
        }
        Err(format!("`{text}` is not a source: use github:owner/repo[:path][@ref], upload:<id> or local:/folder"))
    }

    /// The name an installed extension gets unless one is chosen: the folder's or the
    /// repository's last name.
    pub fn default_name(&self) -> Option<String> {
        match self {
            Source::Github(github) => Some(
                github.path.as_deref().and_then(|path| path.rsplit('/').next()).unwrap_or(&github.repo).to_string(),
            ),
            Source::Local(path) => path.file_name().and_then(|name| name.to_str()).map(str::to_string),
            Source::Upload(_) => None,
        }
    }

    /// The ref this source asks for, if any.
    pub fn reference(&self) -> Option<&str> {
        match self {
            Source::Github(github) => github.reference.as_deref(),
            _ => None,
        }
    }
}

/// Without the ref: `github:owner/repo[:path]`, `upload:<id>`, `local:/folder`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Github(github) => {
                write!(f, "github:{}/{}", github.owner, github.repo)?;
                if let Some(path) = &github.path {
                    write!(f, ":{path}")?;
                }
                Ok(())
            }
            Source::Upload(id) => write!(f, "upload:{id}"),
            Source::Local(path) => write!(f, "local:{}", path.display()),
        }
    }
}

impl GithubSource {
    fn parse(text: &str) -> Result<Self, String> {
        let whole = format!("github:{text}");
        let (rest, reference) = match text.rsplit_once('@') {
            Some((rest, reference)) => (rest, Some(reference)),
            None => (text, None),
        };
        let (repository, path) = match rest.split_once(':') {
            Some((repository, path)) => (repository, Some(path)),
            None => (rest, None),
        };
        let Some((owner, repo)) = repository.split_once('/') else {
            return Err(format!("`{whole}`: expected github:owner/repo"));
        };
        let name_ok = |name: &str| {
            !name.is_empty()
                && name.len() <= 100
                && name != "."
                && name != ".."
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !name_ok(owner) || !name_ok(repo) {
            return Err(format!("`{whole}`: `{repository}` is not a GitHub owner/repository name"));
        }
        let path = match path.map(|path| path.trim_matches('/')) {
            None | Some("") => None,
            Some(path) => {
                let normal = Path::new(path).components().all(|part| matches!(part, Component::Normal(_)));
                if !normal || path.len() > 300 {
                    return Err(format!("`{whole}`: `{path}` must be a folder inside the repository, without `..`"));
                }
                Some(path.to_string())
            }
        };
        if let Some(reference) = reference {
            let valid = !reference.is_empty()
                && reference.len() <= 200
                && !reference.contains("..")
                && reference.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
            if !valid {
                return Err(format!("`{whole}`: `{reference}` is not a branch, tag or commit name"));
            }
        }
        Ok(Self { owner: owner.to_string(), repo: repo.to_string(), path, reference: reference.map(str::to_string) })
    }
}

/// Upload ids are Luna's own: 32 lowercase hex digits, so one can never name a path.
pub fn check_upload_id(id: &str) -> Result<(), String> {
    if id.len() == 32 && id.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
        Ok(())
    } else {
        Err(format!("`upload:{id}` does not name an upload"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_sources_with_path_and_ref() {
        let source = Source::parse("github:octo/luna-ext:embedded/notes@v1.2").unwrap();
        let Source::Github(github) = &source else { panic!("{source:?}") };
        assert_eq!((github.owner.as_str(), github.repo.as_str()), ("octo", "luna-ext"));
        assert_eq!(github.path.as_deref(), Some("embedded/notes"));
        assert_eq!(github.reference.as_deref(), Some("v1.2"));
        assert_eq!(source.to_string(), "github:octo/luna-ext:embedded/notes");
        assert_eq!(source.default_name().as_deref(), Some("notes"));

        let plain = Source::parse("github:octo/weather").unwrap();
        assert_eq!(plain.reference(), None);
        assert_eq!(plain.default_name().as_deref(), Some("weather"));
        assert_eq!(plain.to_string(), "github:octo/weather");
    }

    #[test]
    fn bad_sources_are_named() {
        for bad in [
            "github:octo",
            "github:../x",
            "github:octo/repo:../../etc",
            "github:octo/repo@a..b",
            "github:octo/repo@",
            "upload:../../etc/passwd",
            "local:relative/path",
            "https://github.com/octo/repo",
        ] {
            let error = Source::parse(bad).unwrap_err();
            assert!(error.contains('`'), "{bad}: {error}");
        }
    }

    #[test]
    fn uploads_and_local_folders() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(Source::parse(&format!("upload:{id}")).unwrap(), Source::Upload(id.into()));
        let local = Source::parse("local:/srv/ext/hello").unwrap();
        assert_eq!(local.default_name().as_deref(), Some("hello"));
        assert_eq!(local.to_string(), "local:/srv/ext/hello");
    }
}
