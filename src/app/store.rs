//! The Addon Store as front-ends see it: one catalog of what ships with Luna and what the
//! registries list, marked installed or not; an addon's details with its dependencies; and
//! installs through the paths that exist already (extensions as `luna ext install` does,
//! services by fetching their pinned definition, then the service's own form).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{AppError, Luna};
use crate::external::definition::{self, Definition};
use crate::packages::{Installed, PackageError, Progress};
use crate::store::{
    Addon, AddonSource, AddonType, BUNDLED, Category, Listed, RegistryState, RegistryStatus, StoreProblem, StoreQuery,
};

/// `GET /api/addons`, `luna store search`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoreListing {
    /// The addons the query asked for, in its order.
    pub addons: Vec<Listed>,
    /// How many the catalog holds in all.
    pub total: usize,
    pub categories: Vec<Category>,
    pub registries: Vec<RegistryStatus>,
    /// Registry files and entries left out, and why.
    pub problems: Vec<StoreProblem>,
}

/// `GET /api/addons/{id}`, `luna store show`: the addon as listed, and more.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddonDetail {
    #[serde(flatten)]
    pub addon: Listed,
    /// Each of `dependencies`: whether it is installed, or in the store at all.
    pub dependency_status: Vec<Dependency>,
    /// The source to read (the repository's folder at the pinned commit).
    pub source_url: Option<String>,
}

/// `GET /api/addons/{id}/dependencies` (the reference's shape).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dependencies {
    pub required: Vec<String>,
    pub satisfied: Vec<Dependency>,
    pub missing: Vec<Dependency>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dependency {
    pub id: String,
    /// Its name in the store, if the store lists it.
    pub name: Option<String>,
    pub installed: bool,
}

/// The end of an install from the store.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreInstalled {
    /// Installed and started, as `luna ext install` reports it.
    Extension { installed: Box<Installed> },
    /// The service's definition is in the catalog of external services: its form comes next
    /// (`POST /api/external-services/{service}/install`).
    Service { service: String },
}

/// The categories every catalog knows (the reference's), before those registries add.
fn standard_categories() -> Vec<Category> {
    [
        ("productivity", "Productivity", "📝"),
        ("development", "Development", "💻"),
        ("automation", "Automation", "🤖"),
        ("database", "Databases", "💾"),
        ("application", "Applications", "📱"),
        ("network", "Network", "🌐"),
        ("communication", "Communication", "💬"),
    ]
    .into_iter()
    .map(|(id, name, icon)| Category { id: id.into(), name: name.into(), icon: icon.into() })
    .collect()
}

impl Luna {
    pub async fn store_search(&self, query: &StoreQuery, refresh: bool) -> Result<StoreListing, AppError> {
        let mut listing = self.catalog(refresh).await?;
        listing.addons = crate::store::search::apply(std::mem::take(&mut listing.addons), query);
        Ok(listing)
    }

    pub async fn store_addon(&self, id: &str) -> Result<AddonDetail, AppError> {
        let listing = self.catalog(false).await?;
        let listed = listing
            .addons
            .iter()
            .find(|listed| listed.addon.id == id)
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("the store lists no addon `{id}`")))?;
        let dependency_status = listed
            .addon
            .dependencies
            .iter()
            .map(|dependency| {
                let known = listing.addons.iter().find(|other| other.addon.id == *dependency);
                Dependency {
                    id: dependency.clone(),
                    name: known.map(|other| other.addon.name.clone()),
                    installed: known.is_some_and(|other| other.installed),
                }
            })
            .collect();
        let source_url = listed.addon.source.web_url();
        Ok(AddonDetail { addon: listed, dependency_status, source_url })
    }

    pub async fn store_dependencies(&self, id: &str) -> Result<Dependencies, AppError> {
        let detail = self.store_addon(id).await?;
        let (satisfied, missing) = detail.dependency_status.into_iter().partition(|dependency| dependency.installed);
        Ok(Dependencies { required: detail.addon.addon.dependencies, satisfied, missing })
    }

    /// Installs addon `id`: an extension to the end (`Installed`); a service up to its form.
    pub async fn store_install(
        &self,
        id: &str,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<StoreInstalled, PackageError> {
        let detail = self.store_addon(id).await.map_err(|error| match error {
            AppError::NotFound(message) => PackageError::NotFound(message),
            other => PackageError::Io(other.to_string()),
        })?;
        let addon = detail.addon.addon;
        if detail.addon.installed {
            return Err(PackageError::Conflict(format!("`{id}` is installed already")));
        }
        match (addon.addon_type, &addon.source) {
            (AddonType::Extension, AddonSource::Github { sha256, .. }) => {
                let source = addon.source.package_source().expect("a GitHub source");
                let installed = self.packages.install_pinned(&source, Some(&addon.id), Some(sha256), progress).await?;
                Ok(StoreInstalled::Extension { installed: Box::new(installed) })
            }
            (AddonType::Extension, AddonSource::Bundled) => {
                Err(PackageError::Invalid(format!("`{id}` ships with Luna: it is in extensions/ already")))
            }
            (AddonType::ExternalService, source) => {
                let folder = self.home.external_services_dir().join(&addon.id);
                if let AddonSource::Github { sha256, .. } = source
                    && !folder.exists()
                {
                    progress(Progress::Step { message: format!("fetching the definition of {}", addon.name) });
                    let package = source.package_source().expect("a GitHub source");
                    self.packages.fetch_folder(&package, sha256, &folder, progress).await?;
                }
                Ok(StoreInstalled::Service { service: addon.id })
            }
        }
    }

    /// What ships with Luna, then each registry; an id listed twice is shown from the first.
    async fn catalog(&self, refresh: bool) -> Result<StoreListing, AppError> {
        let extensions: HashSet<String> =
            self.supervisor.extensions().await?.into_iter().map(|extension| extension.name).collect();
        let services: HashSet<String> = self.external_services.installed_names().into_iter().collect();
        let installed = |addon: &Addon| match addon.addon_type {
            AddonType::Extension => extensions.contains(&addon.id),
            AddonType::ExternalService => services.contains(&addon.id),
        };
        let bundled = self.bundled_addons();
        let mut registries = vec![RegistryStatus {
            url: BUNDLED.into(),
            state: RegistryState::Ok,
            addons: bundled.len(),
            fetched_at: None,
            error: None,
        }];
        let mut sources = vec![(BUNDLED.to_string(), bundled, Vec::new(), Vec::new())];
        for fetched in self.store.registries(refresh).await {
            let url = fetched.status.url.clone();
            registries.push(fetched.status);
            sources.push((url, fetched.parsed.addons, fetched.parsed.categories, fetched.parsed.problems));
        }
        let mut listing = StoreListing {
            addons: Vec::new(),
            total: 0,
            categories: standard_categories(),
            registries,
            problems: Vec::new(),
        };
        for (registry, addons, categories, problems) in sources {
            listing
                .problems
                .extend(problems.into_iter().map(|problem| StoreProblem { registry: registry.clone(), problem }));
            for category in categories {
                if !listing.categories.iter().any(|known| known.id == category.id) {
                    listing.categories.push(category);
                }
            }
            for addon in addons {
                if let Some(first) = listing.addons.iter().find(|listed| listed.addon.id == addon.id) {
                    listing.problems.push(StoreProblem {
                        registry: registry.clone(),
                        problem: crate::store::EntryProblem {
                            entry: addon.id.clone(),
                            field: "id".into(),
                            reason: format!("also listed by {}, whose entry is shown", first.registry),
                        },
                    });
                    continue;
                }
                let installed = installed(&addon);
                listing.addons.push(Listed { addon, registry: registry.clone(), installed });
            }
        }
        listing.total = listing.addons.len();
        Ok(listing)
    }

    /// The external services whose definitions ship with Luna (not those a registry brought).
    fn bundled_addons(&self) -> Vec<Addon> {
        definition::discover(&self.home.external_services_dir())
            .into_iter()
            .filter(|entry| !entry.dir.join(crate::packages::SOURCE_FILE).exists())
            .filter_map(|entry| {
                let (definition, _) = entry.loaded.ok()?;
                let (has_ui, provides_vars, version) = match &definition {
                    Definition::Docker(docker) => {
                        // The image's tag: `16-alpine` of `docker.io/library/postgres:16-alpine`.
                        let last = docker.image.rsplit('/').next().unwrap_or_default();
                        let tag = last.split_once(':').map_or("latest", |(_, tag)| tag);
                        (docker.ui.is_some(), docker.exports.keys().cloned().collect(), tag.to_string())
                    }
                    Definition::Shell(shell) => (false, shell.provides_vars.clone(), "-".to_string()),
                };
                Some(Addon {
                    id: entry.name.clone(),
                    name: definition.display_name(),
                    addon_type: AddonType::ExternalService,
                    category: definition.category().to_string(),
                    description: definition.description().to_string(),
                    author: "Luna".into(),
                    version,
                    source: AddonSource::Bundled,
                    tags: vec![definition.kind().to_string()],
                    has_ui,
                    tool_count: 0,
                    service_count: 0,
                    required_secrets: Vec::new(),
                    dependencies: Vec::new(),
                    provides_vars,
                    tools: Vec::new(),
                    added: None,
                    docs_url: None,
                    long_description: None,
                })
            })
            .collect()
    }
}
