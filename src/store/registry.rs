//! The registry file format (`registry.json`, the reference's Addon Store format): addons
//! with their id, type, category, description, source and what they need or provide, and the
//! categories. Each entry is read on its own: a malformed one is reported with the field at
//! fault, and the others are listed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest registry file read (larger is refused, whole).
pub const MAX_REGISTRY_BYTES: usize = 1024 * 1024;
/// Entries read from one registry; the rest are reported.
const MAX_ADDONS: usize = 1000;
/// Longest description, tag list, and so on: a card is not a book.
const MAX_TEXT: usize = 2000;
const MAX_LIST: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddonType {
    Extension,
    ExternalService,
}

/// Where an addon comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AddonSource {
    /// Ships with Luna: its folder is in the home already (`external_services/<id>`).
    Bundled,
    /// A folder of a GitHub repository at one commit, whose archive has this SHA-256.
    Github {
        /// `owner/name`.
        repo: String,
        /// The addon's folder in the repository, if not its root.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// 40 hex digits: the source is pinned, never a branch.
        commit: String,
        /// Of the archive GitHub serves for that commit (`/tarball/<commit>`); checked before
        /// anything is unpacked.
        sha256: String,
    },
}

impl AddonSource {
    /// `github:owner/repo[:path]@commit`, as `luna ext install` takes it.
    pub fn package_source(&self) -> Option<String> {
        match self {
            Self::Bundled => None,
            Self::Github { repo, path, commit, .. } => {
                let path = path.as_deref().map(|path| format!(":{path}")).unwrap_or_default();
                Some(format!("github:{repo}{path}@{commit}"))
            }
        }
    }

    /// Where people read it: the repository's folder at the commit.
    pub fn web_url(&self) -> Option<String> {
        match self {
            Self::Bundled => None,
            Self::Github { repo, path, commit, .. } => Some(match path {
                Some(path) => format!("https://github.com/{repo}/tree/{commit}/{path}"),
                None => format!("https://github.com/{repo}/tree/{commit}"),
            }),
        }
    }
}

/// A tool an extension offers, as its entry describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolInfo {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// One addon of a registry, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Addon {
    /// Also the installed folder's name: lowercase letters, digits, `_` and `-`.
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub addon_type: AddonType,
    pub category: String,
    pub description: String,
    pub author: String,
    pub version: String,
    pub source: AddonSource,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub has_ui: bool,
    #[serde(default)]
    pub tool_count: u32,
    #[serde(default)]
    pub service_count: u32,
    /// Keys of `.env` the extension needs.
    #[serde(default)]
    pub required_secrets: Vec<String>,
    /// Ids of addons (usually external services) it works with; shown, never enforced.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// What an external service gives others (`DATABASE_URL`, ...).
    #[serde(default)]
    pub provides_vars: Vec<String>,
    #[serde(default)]
    pub tools: Vec<ToolInfo>,
    /// When it entered the registry (`YYYY-MM-DD`), for "recently added".
    #[serde(default)]
    pub added: Option<String>,
    #[serde(default)]
    pub docs_url: Option<String>,
    /// A longer description for the detail view.
    #[serde(default)]
    pub long_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Category {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub icon: String,
}

/// A registry as read: what could be used, and what not (with the field at fault).
#[derive(Debug, Default)]
pub struct Parsed {
    pub addons: Vec<Addon>,
    pub categories: Vec<Category>,
    pub problems: Vec<EntryProblem>,
}

/// Why an entry (or the whole file) was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryProblem {
    /// `addons[3]` (with its id when it has one: `addons[3] (notes)`), or `registry`.
    pub entry: String,
    /// The field at fault, e.g. `source.commit`; empty for the file as a whole.
    pub field: String,
    pub reason: String,
}

/// Reads a registry file. Only a file that is not a registry at all is an error.
pub fn parse(bytes: &[u8]) -> Result<Parsed, EntryProblem> {
    let whole = |field: &str, reason: String| EntryProblem { entry: "registry".into(), field: field.into(), reason };
    if bytes.len() > MAX_REGISTRY_BYTES {
        return Err(whole("", format!("larger than {} KiB", MAX_REGISTRY_BYTES / 1024)));
    }
    let document: Value = serde_json::from_slice(bytes).map_err(|error| whole("", format!("not JSON: {error}")))?;
    let Some(entries) = document.get("addons").and_then(Value::as_array) else {
        return Err(whole("addons", "missing, or not a list".into()));
    };
    let mut parsed = Parsed::default();
    match document.get("categories") {
        None => {}
        Some(categories) => match serde_json::from_value::<Vec<Category>>(categories.clone()) {
            Ok(categories) => parsed.categories = categories,
            Err(error) => parsed.problems.push(whole("categories", error.to_string())),
        },
    }
    for (index, entry) in entries.iter().enumerate() {
        let label = match entry.get("id").and_then(Value::as_str) {
            Some(id) => format!("addons[{index}] ({})", truncate(id, 64)),
            None => format!("addons[{index}]"),
        };
        if index >= MAX_ADDONS {
            parsed.problems.push(EntryProblem {
                entry: label,
                field: String::new(),
                reason: format!("more than {MAX_ADDONS} addons; the rest are left out"),
            });
            break;
        }
        match read_addon(entry) {
            Ok(addon) if parsed.addons.iter().any(|known| known.id == addon.id) => {
                parsed.problems.push(EntryProblem {
                    entry: label,
                    field: "id".into(),
                    reason: "listed twice; the first is kept".into(),
                });
            }
            Ok(addon) => parsed.addons.push(addon),
            Err((field, reason)) => parsed.problems.push(EntryProblem { entry: label, field, reason }),
        }
    }
    Ok(parsed)
}

fn read_addon(entry: &Value) -> Result<Addon, (String, String)> {
    let addon: Addon = serde_path_to_error::deserialize(entry).map_err(|error| {
        let field = error.path().to_string();
        (if field == "." { String::new() } else { field }, error.into_inner().to_string())
    })?;
    check(&addon)?;
    Ok(addon)
}

/// What serde cannot say: names, pins, sizes.
fn check(addon: &Addon) -> Result<(), (String, String)> {
    let fail = |field: &str, reason: String| Err((field.to_string(), reason));
    crate::extensions::check_name(&addon.id).or_else(|reason| fail("id", reason))?;
    for (field, text) in [("name", &addon.name), ("category", &addon.category), ("description", &addon.description)] {
        if text.trim().is_empty() {
            return fail(field, "is empty".into());
        }
    }
    let texts = [&addon.description, &addon.name, &addon.author, &addon.version, &addon.category];
    if texts.into_iter().chain(addon.long_description.as_ref()).any(|text| text.chars().count() > MAX_TEXT) {
        return fail("description", format!("longer than {MAX_TEXT} characters"));
    }
    let lists = [
        ("tags", addon.tags.len()),
        ("required_secrets", addon.required_secrets.len()),
        ("dependencies", addon.dependencies.len()),
        ("provides_vars", addon.provides_vars.len()),
        ("tools", addon.tools.len()),
    ];
    if let Some((field, _)) = lists.iter().find(|(_, length)| *length > MAX_LIST) {
        return fail(field, format!("more than {MAX_LIST} items"));
    }
    if let Some(key) = addon.required_secrets.iter().chain(&addon.provides_vars).find(|key| !is_env_key(key)) {
        return fail("required_secrets", format!("`{}` is not an environment variable name", truncate(key, 64)));
    }
    if let Some(added) = &addon.added
        && time::Date::parse(added, &time::format_description::well_known::Iso8601::DATE).is_err()
    {
        return fail("added", format!("`{}` is not a date like 2026-12-04", truncate(added, 32)));
    }
    if let Some(url) = &addon.docs_url
        && !url.starts_with("https://")
    {
        return fail("docs_url", "must be an https:// link".into());
    }
    match &addon.source {
        AddonSource::Bundled => Ok(()),
        AddonSource::Github { repo, path, commit, sha256 } => {
            let (owner, name) = repo.split_once('/').unwrap_or(("", ""));
            let part =
                |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !part(owner) || !part(name) {
                return fail("source.repo", format!("`{}` is not owner/name", truncate(repo, 100)));
            }
            if path
                .as_deref()
                .is_some_and(|path| path.split('/').any(|part| part.is_empty() || part == "." || part == ".."))
            {
                return fail("source.path", "must be a plain relative folder".into());
            }
            if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
                return fail(
                    "source.commit",
                    "must be a full commit id (40 hex digits): a registry pins its sources".into(),
                );
            }
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return fail("source.sha256", "must be the archive's SHA-256 (64 hex digits)".into());
            }
            Ok(())
        }
    }
}

fn is_env_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|first| first.is_ascii_uppercase() || first == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && key.len() <= 128
}

fn truncate(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Value {
        serde_json::json!({
            "id": id, "name": "Notes", "type": "extension", "category": "productivity",
            "description": "Notes with tags", "author": "Luna Team", "version": "1.0",
            "source": { "type": "github", "repo": "luna-addons/notes", "commit": "a".repeat(40), "sha256": "b".repeat(64) },
            "tags": ["notes"],
        })
    }

    #[test]
    fn a_bad_entry_is_named_with_its_field_and_the_others_are_kept() {
        let mut pinned_to_a_branch = entry("todos");
        pinned_to_a_branch["source"]["commit"] = "main".into();
        let mut unknown_type = entry("weather");
        unknown_type["type"] = "plugin".into();
        let document = serde_json::json!({
            "addons": [entry("notes"), pinned_to_a_branch, unknown_type, entry("notes"), {"name": "no id"}],
            "categories": [{ "id": "productivity", "name": "Productivity", "icon": "📝" }],
        });
        let parsed = parse(document.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.addons.iter().map(|addon| addon.id.as_str()).collect::<Vec<_>>(), ["notes"]);
        assert_eq!(parsed.categories.len(), 1);
        let problems: Vec<(&str, &str)> =
            parsed.problems.iter().map(|problem| (problem.entry.as_str(), problem.field.as_str())).collect();
        assert_eq!(
            problems,
            [
                ("addons[1] (todos)", "source.commit"),
                ("addons[2] (weather)", "type"),
                ("addons[3] (notes)", "id"),
                ("addons[4]", "")
            ],
            "{:#?}",
            parsed.problems
        );
        assert!(parsed.problems[0].reason.contains("40 hex digits"));
        assert!(parsed.problems[3].reason.contains("id"), "{}", parsed.problems[3].reason);
    }

    #[test]
    fn a_file_that_is_no_registry_is_refused_whole() {
        assert_eq!(parse(b"{").unwrap_err().reason.split(':').next(), Some("not JSON"));
        assert_eq!(parse(b"{\"addons\": 3}").unwrap_err().field, "addons");
        assert!(parse(&vec![b' '; MAX_REGISTRY_BYTES + 1]).is_err());
    }

    #[test]
    fn a_github_source_becomes_the_pinned_package_source() {
        let source = AddonSource::Github {
            repo: "o/r".into(),
            path: Some("ext/notes".into()),
            commit: "c".repeat(40),
            sha256: "d".repeat(64),
        };
        assert_eq!(source.package_source().unwrap(), format!("github:o/r:ext/notes@{}", "c".repeat(40)));
    }
}
