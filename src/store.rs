//! The Addon Store's catalog: the external services that ship with Luna, plus the registries
//! the owner added by URL (`store.registries`), fetched with a timeout and a size cap, cached
//! in `.luna/store/`, and shown from that cache (marked stale) while a registry is unreachable.
//!
//! - [`registry`]: the `registry.json` format, read entry by entry;
//! - [`search`]: the search, filters and sort every front-end shares.
//!
//! Installing goes through the paths that exist already ([`crate::app`]'s `store_install`):
//! extensions through [`crate::packages`], services through [`crate::external`].

pub mod registry;
pub mod search;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use registry::{Addon, AddonSource, AddonType, Category, EntryProblem, ToolInfo};
pub use search::{Sort, StoreQuery};

/// A registry fetched this recently is not fetched again (a search per keystroke).
const FRESH_FOR: Duration = Duration::from_secs(300);
/// One registry fetch gives up after this.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The name the registry of what ships with Luna goes by.
pub const BUNDLED: &str = "bundled";

/// An addon as the catalog lists it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listed {
    #[serde(flatten)]
    pub addon: Addon,
    /// `bundled`, or the URL of the registry that lists it.
    pub registry: String,
    pub installed: bool,
}

/// How a registry answered this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistryState {
    Ok,
    /// Unreachable (or broken) now: its last good copy is shown.
    Stale,
    /// Unreachable, and never fetched: nothing of it is shown.
    Unavailable,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistryStatus {
    pub url: String,
    pub state: RegistryState,
    pub addons: usize,
    /// When the copy shown was fetched (`None` for the bundled one).
    #[serde(with = "time::serde::rfc3339::option")]
    pub fetched_at: Option<OffsetDateTime>,
    /// Why it could not be fetched now.
    pub error: Option<String>,
}

/// A problem of one registry's file or entry, for the owner to see.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoreProblem {
    pub registry: String,
    #[serde(flatten)]
    pub problem: EntryProblem,
}

/// One registry's contribution to the catalog.
pub struct Fetched {
    pub status: RegistryStatus,
    pub parsed: registry::Parsed,
}

/// What `.luna/store/` keeps of a registry: the last body that parsed.
#[derive(Serialize, Deserialize)]
struct CachedCopy {
    url: String,
    #[serde(with = "time::serde::rfc3339")]
    fetched_at: OffsetDateTime,
    body: String,
}

pub struct Store {
    registries: Vec<String>,
    cache_dir: PathBuf,
    http: reqwest::Client,
    /// The copies fetched lately, so that a search per keystroke fetches nothing.
    recent: tokio::sync::Mutex<HashMap<String, (Instant, RegistryStatus, String)>>,
}

impl Store {
    pub fn new(registries: Vec<String>, cache_dir: PathBuf) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            // A registry that moved says so; following it could lead anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("luna/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a client with a timeout builds");
        Self { registries, cache_dir, http, recent: tokio::sync::Mutex::default() }
    }

    /// Every configured registry, in the order of the settings; `refresh` fetches even those
    /// fetched lately.
    pub async fn registries(&self, refresh: bool) -> Vec<Fetched> {
        let mut recent = self.recent.lock().await;
        let mut fetched = Vec::new();
        for url in &self.registries {
            let fresh = recent.get(url).filter(|(at, ..)| !refresh && at.elapsed() < FRESH_FOR);
            let (status, body) = match fresh {
                Some((_, status, body)) => (status.clone(), body.clone()),
                None => {
                    let (status, body) = self.fetch(url).await;
                    recent.insert(url.clone(), (Instant::now(), status.clone(), body.clone()));
                    (status, body)
                }
            };
            fetched.push(self.read(status, &body));
        }
        fetched
    }

    fn read(&self, mut status: RegistryStatus, body: &str) -> Fetched {
        let parsed = match registry::parse(body.as_bytes()) {
            _ if status.state == RegistryState::Unavailable => registry::Parsed::default(),
            Ok(parsed) => parsed,
            Err(problem) => registry::Parsed { problems: vec![problem], ..Default::default() },
        };
        status.addons = parsed.addons.len();
        Fetched { status, parsed }
    }

    /// The registry's body now, or its cached copy (stale), or nothing (unavailable).
    async fn fetch(&self, url: &str) -> (RegistryStatus, String) {
        let cache_file = self.cache_dir.join(format!("{}.json", crate::hex::lower(&sha2_of(url))));
        match self.download(url).await {
            Ok(body) => {
                let copy = CachedCopy { url: url.to_string(), fetched_at: OffsetDateTime::now_utc(), body };
                let bytes = serde_json::to_vec(&copy).unwrap_or_default();
                if let Err(error) = crate::state_file::create_private_dir(&self.cache_dir)
                    .and_then(|()| crate::state_file::write_atomic(&cache_file, &bytes, 0o600))
                {
                    tracing::warn!(%error, registry = url, "cannot cache the registry");
                }
                let status = RegistryStatus {
                    url: url.to_string(),
                    state: RegistryState::Ok,
                    addons: 0,
                    fetched_at: Some(copy.fetched_at),
                    error: None,
                };
                (status, copy.body)
            }
            Err(reason) => {
                tracing::warn!(registry = url, %reason, "registry unreachable");
                let cached =
                    std::fs::read(&cache_file).ok().and_then(|bytes| serde_json::from_slice::<CachedCopy>(&bytes).ok());
                match cached {
                    Some(copy) if copy.url == url => {
                        let status = RegistryStatus {
                            url: url.to_string(),
                            state: RegistryState::Stale,
                            addons: 0,
                            fetched_at: Some(copy.fetched_at),
                            error: Some(reason),
                        };
                        (status, copy.body)
                    }
                    _ => {
                        let status = RegistryStatus {
                            url: url.to_string(),
                            state: RegistryState::Unavailable,
                            addons: 0,
                            fetched_at: None,
                            error: Some(reason),
                        };
                        (status, String::new())
                    }
                }
            }
        }
    }

    /// The body, if it came whole, as a registry, within the size cap.
    async fn download(&self, url: &str) -> Result<String, String> {
        let mut response =
            self.http.get(url).send().await.map_err(|error| crate::logging::error_chain(&error.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|error| crate::logging::error_chain(&error.without_url()))?
        {
            if body.len() + chunk.len() > registry::MAX_REGISTRY_BYTES {
                return Err(format!("larger than {} KiB", registry::MAX_REGISTRY_BYTES / 1024));
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body).map_err(|_| "not UTF-8".to_string())?;
        // A body that is no registry is not cached over a good copy.
        registry::parse(body.as_bytes()).map_err(|problem| format!("not a registry: {}", problem.reason))?;
        Ok(body)
    }
}

fn sha2_of(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}
