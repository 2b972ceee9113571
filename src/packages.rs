//! Installing, updating and removing extensions inside the running Luna.
//!
//! An install or update: resolve the source (GitHub ref → commit) → fetch into a staging
//! folder next to `extensions/` (`extensions/.luna-staging/`, same filesystem) → unpack as
//! hostile input (`archive.rs`) → validate the manifest → install dependencies there →
//! stop only this extension → swap the staged folder in (one rename, or one atomic exchange
//! with the old version) → start it → wait until its processes run. If they do not, the old
//! version is swapped back and started. A crash at any point leaves either the old or the
//! new folder in `extensions/<name>`, never a mix; the next start clears what staging held.
//!
//! The installed folder carries its provenance (`.luna-source.json`: source, ref, commit), so
//! `master_config.json` is set from the folder that is really there, crash or not.

mod archive;
pub mod dependencies;
mod github;
pub mod queue;
pub mod source;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use archive::{ArchiveError, LIMITS};
use github::{Github, GithubError};
pub use queue::{Operation, UpdateQueue};
pub use source::Source;

use crate::env_file::SharedSecrets;
use crate::events::{Events, Topic};
use crate::extensions::check_name;
use crate::home::LunaHome;
use crate::supervisor::{ExtensionSummary, Status, Supervisor, SupervisorError};

/// The provenance file inside an installed extension folder.
pub const SOURCE_FILE: &str = ".luna-source.json";
/// Uploads not installed within this long are deleted.
const UPLOAD_LIFETIME: Duration = Duration::from_secs(3600);

/// Where an installed extension came from, as its folder records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Provenance {
    /// `github:owner/repo[:path]`, `upload:<id>` or `local:/folder`.
    pub source: String,
    /// The branch, tag or commit asked for (GitHub only).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The exact commit installed (GitHub only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl Provenance {
    /// The provenance recorded in an extension folder, if any.
    pub fn read(dir: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(SOURCE_FILE)).ok()?).ok()
    }
}

/// What an install or update reports while it runs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// A phase begins (`resolving`, `downloading`, `unpacking`, `dependencies`, `starting`…).
    Step { message: String },
    /// One line of a dependency installer's output.
    Output { line: String },
}

/// The end of a successful install or update.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Installed {
    #[serde(flatten)]
    pub provenance: Provenance,
    pub extension: ExtensionSummary,
    /// An older version was replaced.
    pub replaced: bool,
    /// Why a newly installed extension is not running (it stays installed, with its logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Why an install, update or removal did not happen. Nothing was changed in `extensions/`.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The request itself is wrong: a source, a name.
    #[error("{0}")]
    Invalid(String),
    /// The extension, repository, ref or upload does not exist.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The package is not acceptable: a hostile or broken archive, a bad manifest, failing
    /// dependencies, or a new version that did not start (the old one runs again).
    #[error("{0}")]
    Rejected(String),
    /// GitHub failed or refused.
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
}

impl From<GithubError> for PackageError {
    fn from(error: GithubError) -> Self {
        match error {
            GithubError::NotFound(message) => PackageError::NotFound(message),
            GithubError::Refused(message) => PackageError::Upstream(message),
        }
    }
}

impl From<ArchiveError> for PackageError {
    fn from(error: ArchiveError) -> Self {
        match error {
            ArchiveError::Refused(message) => PackageError::Rejected(format!("archive refused: {message}")),
            ArchiveError::Io(error) => PackageError::Io(format!("cannot unpack: {error}")),
        }
    }
}

/// Refuses an archive that is not the one pinned, before anything of it is unpacked.
async fn check_sha256(archive: &Path, expected: &str) -> Result<(), PackageError> {
    let archive = archive.to_path_buf();
    let digest = tokio::task::spawn_blocking(move || {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        std::io::copy(&mut std::fs::File::open(&archive)?, &mut hasher)?;
        Ok::<_, std::io::Error>(crate::hex::lower(&hasher.finalize()))
    })
    .await
    .map_err(|error| PackageError::Io(format!("hashing stopped: {error}")))?;
    let actual = digest.map_err(io_error("cannot read the archive"))?;
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(PackageError::Rejected(format!(
            "the archive's SHA-256 is {actual}, not the {expected} its store entry pins: refused, nothing was installed"
        )))
    }
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> PackageError + '_ {
    move |error| PackageError::Io(format!("{what}: {error}"))
}

pub struct Packages {
    home: LunaHome,
    github: Github,
    secrets: SharedSecrets,
    supervisor: Supervisor,
    events: Events,
    /// How long a new version may take to have every process running.
    settle_timeout: Duration,
    /// One install, update or removal at a time.
    busy: tokio::sync::Mutex<()>,
    /// One queue apply at a time; the queue file is not changed meanwhile.
    applying: tokio::sync::Mutex<()>,
}

/// The saved queue, the one set aside after failing [`queue::MAX_ATTEMPTS`] times, and
/// `master_config.json` as it is now: where a new draft starts from.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueState {
    pub queue: Option<UpdateQueue>,
    pub failed: Option<UpdateQueue>,
    pub current: crate::master_config::MasterConfig,
}

/// The end of a successful apply.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Applied {
    /// Operations run, in the order they ran.
    pub operations: Vec<Operation>,
    /// Extensions stopped and started for the draft's settings.
    pub restarted: Vec<String>,
}

/// A staging folder (or a downloaded archive) that is removed when dropped, unless it was
/// moved into place.
struct Staged {
    dir: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.dir) {
            Ok(metadata) if metadata.is_dir() => drop(std::fs::remove_dir_all(&self.dir)),
            Ok(_) => drop(std::fs::remove_file(&self.dir)),
            Err(_) => {}
        }
    }
}

impl Packages {
    pub fn new(
        home: LunaHome,
        github_api_url: &str,
        secrets: SharedSecrets,
        supervisor: Supervisor,
        events: Events,
        settle_timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            home,
            github: Github::new(github_api_url),
            secrets,
            supervisor,
            events,
            settle_timeout,
            busy: tokio::sync::Mutex::new(()),
            applying: tokio::sync::Mutex::new(()),
        })
    }

    fn staging_dir(&self) -> PathBuf {
        self.home.extensions_dir().join(".luna-staging")
    }

    fn uploads_dir(&self) -> PathBuf {
        self.home.state_dir().join("uploads")
    }

    /// Clears what an interrupted install left in staging. At start, before discovery.
    pub fn clear_staging(home: &LunaHome) {
        let staging = home.extensions_dir().join(".luna-staging");
        if staging.exists()
            && let Err(error) = std::fs::remove_dir_all(&staging)
        {
            tracing::warn!(%error, path = %staging.display(), "cannot clear the staging folder");
        }
    }

    /// Keeps an uploaded zip for a later install (`upload:<id>`); at most the archive cap.
    pub fn store_upload(&self, bytes: &[u8]) -> Result<String, PackageError> {
        if bytes.len() as u64 > LIMITS.archive_bytes {
            return Err(PackageError::Rejected(format!(
                "the upload is larger than {} MiB",
                LIMITS.archive_bytes >> 20
            )));
        }
        if !bytes.starts_with(b"PK\x03\x04") && !bytes.starts_with(b"PK\x05\x06") {
            return Err(PackageError::Rejected("the upload is not a zip archive".into()));
        }
        let dir = self.uploads_dir();
        crate::state_file::create_private_dir(&dir).map_err(io_error("cannot keep the upload"))?;
        self.forget_old_uploads(&dir);
        let id = crate::hex::lower(&rand::random::<[u8; 16]>());
        crate::state_file::write_atomic(&dir.join(format!("{id}.zip")), bytes, 0o600)
            .map_err(io_error("cannot keep the upload"))?;
        Ok(format!("upload:{id}"))
    }

    fn forget_old_uploads(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        // An upload the saved queue installs is kept until the queue is applied or deleted.
        let queued = std::fs::read_to_string(self.queue_file()).unwrap_or_default();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().trim_end_matches(".zip").to_string();
            if queued.contains(&format!("upload:{id}")) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > UPLOAD_LIFETIME));
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Installs a new extension from `source` under `name` (or the source's own name).
    pub async fn install(
        &self,
        source: &str,
        name: Option<&str>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Installed, PackageError> {
        self.install_pinned(source, name, None, progress).await
    }

    /// [`install`](Self::install), refusing a GitHub archive whose SHA-256 is not `sha256`
    /// (an Addon Store entry pins its source so).
    pub async fn install_pinned(
        &self,
        source: &str,
        name: Option<&str>,
        sha256: Option<&str>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Installed, PackageError> {
        let source = Source::parse(source).map_err(PackageError::Invalid)?;
        let _busy = self.busy.lock().await;
        let staged = self.fetch(&source, sha256, progress).await?;
        let name = match name.map(str::to_string).or(staged.1.clone()).or_else(|| source.default_name()) {
            Some(name) => name,
            None => return Err(PackageError::Invalid("name the extension: the upload has no top folder".into())),
        };
        check_name(&name).map_err(|problem| PackageError::Invalid(format!("{problem}; choose another with a name")))?;
        let live = self.home.extensions_dir().join(&name);
        if std::fs::symlink_metadata(&live).is_ok() {
            return Err(PackageError::Conflict(format!("`{name}` is already installed; update or remove it")));
        }
        let provenance = self.prepare(&staged.0, &name, &source, staged.2.clone(), progress).await?;
        progress(Progress::Step { message: format!("starting {name}") });
        crate::sys::rename_no_replace(&staged.0.dir, &live).map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => {
                PackageError::Conflict(format!("`{name}` appeared in extensions/ meanwhile; nothing was replaced"))
            }
            _ => PackageError::Io(format!("cannot move the extension into place: {error}")),
        })?;
        if let Source::Upload(id) = &source {
            let _ = std::fs::remove_file(self.uploads_dir().join(format!("{id}.zip")));
        }
        let summary = self.supervisor.load_extension(&name).await?;
        // A new extension that does not start stays installed: it shows as failed with its
        // logs, which is where the user finds out why.
        let (summary, problem) = match self.settle(&name, summary.clone()).await {
            Ok(summary) => (summary, None),
            Err(problem) => (summary, Some(format!("installed, but not running: {problem}"))),
        };
        tracing::info!(extension = %name, source = %provenance.source, commit = ?provenance.commit, ?problem, "extension installed");
        Ok(Installed { provenance, extension: summary, replaced: false, problem })
    }

    /// Replaces an installed extension with the newest of its source (or with `source`).
    pub async fn update(
        &self,
        name: &str,
        source: Option<&str>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Installed, PackageError> {
        let _busy = self.busy.lock().await;
        let live = self.home.extensions_dir().join(name);
        if check_name(name).is_err() || !live.is_dir() {
            return Err(PackageError::NotFound(format!("no extension named `{name}`")));
        }
        let current = Provenance::read(&live);
        let source = match (source, &current) {
            (Some(text), _) => Source::parse(text).map_err(PackageError::Invalid)?,
            (None, Some(current)) => {
                let mut source = Source::parse(&current.source).map_err(PackageError::Invalid)?;
                if let (Source::Github(github), Some(reference)) = (&mut source, &current.reference) {
                    github.reference = Some(reference.clone());
                }
                if matches!(source, Source::Upload(_)) {
                    return Err(PackageError::Invalid(format!(
                        "`{name}` was installed from an upload: upload the new version"
                    )));
                }
                source
            }
            (None, None) => {
                return Err(PackageError::Invalid(format!(
                    "`{name}` was not installed by Luna (no {SOURCE_FILE}): name a source to update it from"
                )));
            }
        };
        let (staged, _, commit) = self.fetch(&source, None, progress).await?;
        let provenance = self.prepare(&staged, name, &source, commit, progress).await?;
        if current.as_ref().is_some_and(|current| current.commit.is_some() && *current == provenance) {
            progress(Progress::Step { message: format!("{name} is already at {}", provenance.source) });
        }
        progress(Progress::Step { message: format!("restarting {name}") });
        self.supervisor.park_extension(name).await?;
        if let Err(error) = crate::sys::exchange_paths(&staged.dir, &live) {
            self.supervisor.load_extension(name).await?;
            return Err(PackageError::Io(format!("cannot swap the new version in: {error}")));
        }
        // From here `staged.dir` holds the old version, until the new one runs: every way
        // out that is not success swaps it back before the guard deletes what it holds.
        let started = match self.supervisor.load_extension(name).await {
            Ok(summary) => self.settle(name, summary).await,
            Err(error) => Err(error.to_string()),
        };
        match started {
            Ok(summary) => {
                tracing::info!(extension = %name, commit = ?provenance.commit, "extension updated");
                Ok(Installed { provenance, extension: summary, replaced: true, problem: None })
            }
            Err(problem) => {
                progress(Progress::Step { message: "the new version did not start; restoring the old one".into() });
                if let Err(error) = self.supervisor.park_extension(name).await {
                    tracing::warn!(extension = %name, %error, "could not stop the new version before restoring");
                }
                if let Err(error) = crate::sys::exchange_paths(&staged.dir, &live) {
                    // Keep the old version where it is rather than let the guard delete it.
                    let kept = staged.dir.with_extension("previous");
                    let _ = std::fs::rename(&staged.dir, &kept);
                    return Err(PackageError::Io(format!(
                        "cannot restore the previous version of `{name}` ({error}); it is kept at {}",
                        kept.display()
                    )));
                }
                self.supervisor.load_extension(name).await?;
                Err(PackageError::Rejected(format!(
                    "the new version of `{name}` did not start ({problem}); the previous version runs again"
                )))
            }
        }
    }

    /// Stops and deletes an extension: its folder, its entry, ports and tool flags.
    pub async fn remove(&self, name: &str) -> Result<(), PackageError> {
        let _busy = self.busy.lock().await;
        let live = self.home.extensions_dir().join(name);
        if check_name(name).is_err() || !live.is_dir() {
            return Err(PackageError::NotFound(format!("no extension named `{name}`")));
        }
        self.supervisor.park_extension(name).await?;
        let staging = self.staging_dir();
        std::fs::create_dir_all(&staging).map_err(io_error("cannot create the staging folder"))?;
        let trash =
            Staged { dir: staging.join(format!("removed-{name}-{}", crate::hex::lower(&rand::random::<[u8; 4]>()))) };
        if let Err(error) = std::fs::rename(&live, &trash.dir) {
            self.supervisor.load_extension(name).await?;
            return Err(PackageError::Io(format!("cannot remove `{name}`: {error}")));
        }
        self.supervisor.forget_extension(name).await?;
        tracing::info!(extension = %name, "extension removed");
        Ok(())
    }

    /// Fetches `source` into a fresh staging folder: the folder, the archive's top folder
    /// name (uploads), and the commit (GitHub).
    /// Fetches the folder of a pinned GitHub `source` (whose archive must have `sha256`) and
    /// moves it to `target`, which must not exist: an Addon Store service definition. The
    /// folder records its provenance like an extension's.
    pub async fn fetch_folder(
        &self,
        source: &str,
        sha256: &str,
        target: &Path,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(), PackageError> {
        let source = Source::parse(source).map_err(PackageError::Invalid)?;
        let _busy = self.busy.lock().await;
        let (staged, _, commit) = self.fetch(&source, Some(sha256), progress).await?;
        let provenance =
            Provenance { source: source.to_string(), reference: source.reference().map(str::to_string), commit };
        let text = serde_json::to_vec_pretty(&provenance).map_err(|error| PackageError::Io(error.to_string()))?;
        crate::state_file::write_atomic(&staged.dir.join(SOURCE_FILE), &text, 0o644)
            .map_err(io_error("cannot record the source"))?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_error("cannot create the folder"))?;
        }
        crate::sys::rename_no_replace(&staged.dir, target).map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => PackageError::Conflict(format!("{} exists already", target.display())),
            _ => PackageError::Io(format!("cannot move the folder into place: {error}")),
        })
    }

    async fn fetch(
        &self,
        source: &Source,
        sha256: Option<&str>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(Staged, Option<String>, Option<String>), PackageError> {
        let staging = self.staging_dir();
        std::fs::create_dir_all(&staging).map_err(io_error("cannot create the staging folder"))?;
        let staged = Staged { dir: staging.join(crate::hex::lower(&rand::random::<[u8; 8]>())) };
        let target = staged.dir.clone();
        match source {
            Source::Github(github) => {
                let token = self.secrets.current().get("GITHUB_TOKEN").filter(|t| !t.is_empty()).map(str::to_string);
                progress(Progress::Step {
                    message: format!("resolving {source}@{}", github.reference.as_deref().unwrap_or("default branch")),
                });
                let commit = self.github.resolve(github, token.as_deref()).await?;
                progress(Progress::Step { message: format!("downloading {}", &commit[..12]) });
                let tarball = staged.dir.with_extension("tar.gz");
                let _tarball_guard = Staged { dir: tarball.clone() };
                self.github.download(github, &commit, token.as_deref(), &tarball, LIMITS.archive_bytes).await?;
                if let Some(expected) = sha256 {
                    check_sha256(&tarball, expected).await?;
                }
                progress(Progress::Step { message: "unpacking".into() });
                let subpath = github.path.clone();
                blocking(move || {
                    let file = std::fs::File::open(&tarball)?;
                    archive::unpack_tarball(file, subpath.as_deref(), &target, LIMITS)
                })
                .await?;
                if !staged.dir.is_dir() {
                    let place = github.path.as_deref().map_or(String::new(), |path| format!(" at `{path}`"));
                    return Err(PackageError::NotFound(format!("{source}: the repository has no folder{place}")));
                }
                Ok((staged, None, Some(commit)))
            }
            _ if sha256.is_some() => {
                Err(PackageError::Invalid(format!("{source}: only a GitHub source is pinned by SHA-256")))
            }
            Source::Upload(id) => {
                let file = self.uploads_dir().join(format!("{id}.zip"));
                let file = std::fs::File::open(&file)
                    .map_err(|_| PackageError::NotFound(format!("no upload `{id}` (uploads are kept for an hour)")))?;
                progress(Progress::Step { message: "unpacking".into() });
                let top = blocking(move || archive::unpack_zip(file, &target, LIMITS)).await?;
                Ok((staged, top, None))
            }
            Source::Local(path) => {
                if !path.is_dir() {
                    return Err(PackageError::NotFound(format!("`{}` is not a folder", path.display())));
                }
                progress(Progress::Step { message: format!("copying {}", path.display()) });
                let from = path.clone();
                blocking(move || archive::copy_folder(&from, &target, LIMITS)).await?;
                Ok((staged, None, None))
            }
        }
    }

    /// Validates the staged extension, records its provenance and installs its dependencies.
    async fn prepare(
        &self,
        staged: &Staged,
        name: &str,
        source: &Source,
        commit: Option<String>,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Provenance, PackageError> {
        let extension = crate::extensions::read_extension(name.to_string(), &staged.dir);
        let mut problems: Vec<String> = Vec::new();
        if let Err(problem) = &extension.manifest {
            problems.push(problem.to_string());
        }
        if let Err(problem) = &extension.tool_names {
            problems.push(problem.to_string());
        }
        problems.extend(
            extension.services.iter().filter_map(|service| service.config.as_ref().err()).map(ToString::to_string),
        );
        if !problems.is_empty() {
            let shown: Vec<String> =
                problems.iter().map(|problem| problem.replace(&staged.dir.display().to_string(), name)).collect();
            return Err(PackageError::Rejected(format!("`{name}` cannot be installed: {}", shown.join("; "))));
        }
        let provenance =
            Provenance { source: source.to_string(), reference: source.reference().map(str::to_string), commit };
        let text = serde_json::to_vec_pretty(&provenance).map_err(|error| PackageError::Io(error.to_string()))?;
        crate::state_file::write_atomic(&staged.dir.join(SOURCE_FILE), &text, 0o644)
            .map_err(io_error("cannot record the source"))?;
        let steps = dependencies::planned(&staged.dir);
        if !steps.is_empty() {
            progress(Progress::Step { message: format!("installing dependencies: {}", steps.join(", ")) });
            let output = |line: &str| progress(Progress::Output { line: line.to_string() });
            let final_dir = self.home.extensions_dir().join(name);
            dependencies::install(&staged.dir, &final_dir, &output)
                .await
                .map_err(|error| PackageError::Rejected(format!("`{name}`'s dependencies: {error}")))?;
        }
        Ok(provenance)
    }

    /// Waits until every process of `name` runs; the first that fails, or the deadline,
    /// is the answer's problem. A disabled extension has nothing to wait for.
    async fn settle(&self, name: &str, summary: ExtensionSummary) -> Result<ExtensionSummary, String> {
        if !summary.enabled {
            return Ok(summary);
        }
        let mut changes = self.events.subscribe();
        let deadline = tokio::time::Instant::now() + self.settle_timeout;
        loop {
            let services = self.supervisor.services().await.map_err(|error| error.to_string())?;
            let mine: Vec<_> = services.services.iter().filter(|(_, record)| record.extension == name).collect();
            if let Some((key, record)) =
                mine.iter().find(|(_, record)| matches!(record.status, Status::Failed | Status::Misconfigured))
            {
                return Err(format!("{key}: {}", record.error.as_deref().unwrap_or("failed")));
            }
            if mine.iter().all(|(_, record)| record.status == Status::Running) {
                let all = self.supervisor.extensions().await.map_err(|error| error.to_string())?;
                return all.into_iter().find(|s| s.name == name).ok_or_else(|| "it disappeared".to_string());
            }
            loop {
                match tokio::time::timeout_at(deadline, changes.recv()).await {
                    Err(_) => {
                        let waiting: Vec<&String> =
                            mine.iter().filter(|(_, r)| r.status != Status::Running).map(|(key, _)| *key).collect();
                        return Err(format!("not running after {} s: {waiting:?}", self.settle_timeout.as_secs()));
                    }
                    Ok(Ok(Topic::Extensions) | Err(_)) => break,
                    Ok(Ok(_)) => continue,
                }
            }
        }
    }
}

impl Packages {
    fn queue_file(&self) -> PathBuf {
        self.home.state_dir().join("update_queue.json")
    }

    fn failed_queue_file(&self) -> PathBuf {
        self.home.state_dir().join("update_queue_failed.json")
    }

    pub fn queue(&self) -> Result<QueueState, PackageError> {
        let read = |path: &Path| UpdateQueue::load(path).map_err(PackageError::Io);
        let current = crate::master_config::MasterConfig::load(&self.home.master_config_file())
            .map_err(|error| PackageError::Io(error.to_string()))?;
        Ok(QueueState { queue: read(&self.queue_file())?, failed: read(&self.failed_queue_file())?, current })
    }

    /// Saves the user's draft; every problem of it is named, and nothing is saved then.
    pub fn save_queue(&self, mut queue: UpdateQueue) -> Result<UpdateQueue, PackageError> {
        let Ok(_not_applying) = self.applying.try_lock() else {
            return Err(PackageError::Conflict("the queue is being applied; wait for it to finish".into()));
        };
        let problems = queue.problems();
        if !problems.is_empty() {
            return Err(PackageError::Invalid(format!("the queue cannot be saved: {}", problems.join("; "))));
        }
        queue.attempts = 0;
        queue.applying = false;
        queue.last_error = None;
        queue.save(&self.queue_file()).map_err(io_error("cannot save the queue"))?;
        let _ = std::fs::remove_file(self.failed_queue_file());
        Ok(queue)
    }

    /// Deletes the saved queue (and one set aside after failing).
    pub fn delete_queue(&self) -> Result<(), PackageError> {
        let Ok(_not_applying) = self.applying.try_lock() else {
            return Err(PackageError::Conflict("the queue is being applied; wait for it to finish".into()));
        };
        let removed = [self.queue_file(), self.failed_queue_file()]
            .iter()
            .filter(|path| std::fs::remove_file(path).is_ok())
            .count();
        if removed == 0 {
            return Err(PackageError::NotFound("no queue is saved".into()));
        }
        Ok(())
    }

    /// Applies the saved queue in phases — deletions, installs, updates, then the draft's
    /// settings (configs, tool flags, enabled) — stopping and starting only what changes.
    /// A failed apply keeps the queue for another try, up to [`queue::MAX_ATTEMPTS`].
    pub async fn apply_queue(&self, progress: &(dyn Fn(Progress) + Sync)) -> Result<Applied, PackageError> {
        let _applying = self.applying.lock().await;
        let Some(mut queue) = UpdateQueue::load(&self.queue_file()).map_err(PackageError::Io)? else {
            return Err(PackageError::NotFound("no queue is saved".into()));
        };
        queue.attempts += 1;
        queue.applying = true;
        queue.save(&self.queue_file()).map_err(io_error("cannot save the queue"))?;
        let attempt = queue.attempts;
        match self.run_queue(&queue, progress).await {
            Ok(applied) => {
                std::fs::remove_file(self.queue_file()).map_err(io_error("cannot clear the queue"))?;
                tracing::info!(operations = applied.operations.len(), "update queue applied");
                Ok(applied)
            }
            Err(error) => {
                queue.applying = false;
                queue.last_error = Some(error.to_string());
                let message = if attempt >= queue::MAX_ATTEMPTS {
                    queue.save(&self.failed_queue_file()).map_err(io_error("cannot set the queue aside"))?;
                    let _ = std::fs::remove_file(self.queue_file());
                    format!(
                        "{error} (attempt {attempt} of {}; the queue is set aside as update_queue_failed.json)",
                        queue::MAX_ATTEMPTS
                    )
                } else {
                    queue.save(&self.queue_file()).map_err(io_error("cannot save the queue"))?;
                    format!("{error} (attempt {attempt} of {}; apply again to retry)", queue::MAX_ATTEMPTS)
                };
                tracing::warn!(%message, "update queue failed");
                Err(match error {
                    PackageError::Supervisor(error) => PackageError::Supervisor(error),
                    _ => PackageError::Rejected(message),
                })
            }
        }
    }

    async fn run_queue(
        &self,
        queue: &UpdateQueue,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Applied, PackageError> {
        let mut operations = queue.operations.clone();
        operations.sort_by_key(Operation::phase);
        let count = operations.len();
        for (index, operation) in operations.iter().enumerate() {
            let target = operation.target();
            let step = |verb: &str| Progress::Step { message: format!("{verb} {target} ({}/{count})", index + 1) };
            let live = self.home.extensions_dir().join(target);
            match operation {
                Operation::Delete { .. } if !live.exists() => progress(step("already removed:")),
                Operation::Delete { .. } => {
                    progress(step("removing"));
                    self.remove(target).await?;
                }
                Operation::Install { source, .. } => {
                    let wanted = Source::parse(source).map_err(PackageError::Invalid)?.to_string();
                    if Provenance::read(&live).is_some_and(|installed| installed.source == wanted) {
                        // A resumed apply: this one finished before Luna stopped.
                        progress(step("already installed:"));
                        continue;
                    }
                    progress(step("installing"));
                    self.install(source, Some(target), progress).await?;
                }
                Operation::Update { source, .. } => {
                    progress(step("updating"));
                    self.update(target, source.as_deref(), progress).await?;
                }
            }
        }
        progress(Progress::Step { message: "applying settings".into() });
        let restarted = self.apply_draft(&queue.master_config).await?;
        Ok(Applied { operations, restarted })
    }

    /// The draft's settings: configs and tool flags, then enabled flags; an enabled
    /// extension whose config changed restarts (its processes read the config at start).
    async fn apply_draft(&self, draft: &crate::master_config::MasterConfig) -> Result<Vec<String>, PackageError> {
        let changed = self.supervisor.set_draft(draft.clone()).await?;
        let mut restarted = Vec::new();
        for summary in self.supervisor.extensions().await? {
            let Some(wanted) = draft.extensions.get(&summary.name) else { continue };
            if summary.enabled != wanted.enabled {
                self.supervisor.set_enabled(&summary.name, wanted.enabled).await?;
            } else if summary.running && changed.contains(&summary.name) {
                self.supervisor.park_extension(&summary.name).await?;
                let name = summary.name.clone();
                let summary = self.supervisor.load_extension(&name).await?;
                self.settle(&name, summary).await.map_err(PackageError::Rejected)?;
                restarted.push(name);
            }
        }
        Ok(restarted)
    }

    /// Finishes an apply that Luna's last run did not (it stopped or crashed meanwhile).
    pub async fn resume_interrupted_apply(self: Arc<Self>) {
        let interrupted = UpdateQueue::load(&self.queue_file()).ok().flatten().is_some_and(|queue| queue.applying);
        if !interrupted {
            return;
        }
        tracing::warn!("resuming the update queue apply a previous run did not finish");
        let log = |update: Progress| {
            if let Progress::Step { message } = update {
                tracing::info!(%message, "update queue");
            }
        };
        if let Err(error) = self.apply_queue(&log).await {
            tracing::error!(%error, "the resumed update queue failed");
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ArchiveError> + Send + 'static,
) -> Result<T, PackageError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(PackageError::from),
        Err(error) => Err(PackageError::Io(format!("unpacking stopped: {error}"))),
    }
}
