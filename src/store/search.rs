//! Search, filters and sort of the catalog: one implementation for the API, the CLI and the
//! Hub (which asks the API as you type).

use serde::Deserialize;

use super::{AddonType, Listed};

/// What a search asks for; every filter combines with the others (AND).
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreQuery {
    /// Words to find in the name, id, description, tags, dependencies and provided variables.
    pub q: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type", inline)]
    pub addon_type: Option<AddonType>,
    pub category: Option<String>,
    pub has_ui: Option<bool>,
    /// Only addons that depend on nothing.
    pub no_dependencies: Option<bool>,
    /// Only installed (`true`) or only not installed (`false`) addons.
    pub installed: Option<bool>,
    /// Only addons that need no keys.
    pub no_secrets: Option<bool>,
    #[param(inline)]
    pub sort: Option<Sort>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// A to Z (the default without a search).
    #[default]
    Name,
    /// Z to A.
    NameDesc,
    /// Newest `added` first.
    Recent,
    Category,
}

/// How well an addon matches the search words (higher is better); `None`: not at all.
/// An exact name or id beats a name that contains the words, which beats the description,
/// which beats tags, dependencies and provided variables.
fn score(listed: &Listed, words: &[String]) -> Option<u32> {
    let addon = &listed.addon;
    let name = addon.name.to_lowercase();
    let whole = words.join(" ");
    if name == whole || addon.id == whole {
        return Some(1000);
    }
    let mut total = 0;
    for word in words {
        let in_list = |list: &[String]| list.iter().any(|item| item.to_lowercase().contains(word.as_str()));
        total += if name.contains(word.as_str()) || addon.id.contains(word.as_str()) {
            100
        } else if addon.description.to_lowercase().contains(word.as_str()) || addon.category.to_lowercase() == *word {
            10
        } else if in_list(&addon.tags) || in_list(&addon.dependencies) || in_list(&addon.provides_vars) {
            1
        } else {
            return None;
        };
    }
    Some(total)
}

/// The addons `query` asks for, in its order.
pub fn apply(listed: Vec<Listed>, query: &StoreQuery) -> Vec<Listed> {
    let words: Vec<String> = query.q.as_deref().unwrap_or_default().split_whitespace().map(str::to_lowercase).collect();
    let wanted = |item: &Listed| {
        let addon = &item.addon;
        query.addon_type.is_none_or(|wanted| addon.addon_type == wanted)
            && query.category.as_deref().is_none_or(|category| addon.category.eq_ignore_ascii_case(category))
            && query.has_ui.is_none_or(|wanted| addon.has_ui == wanted)
            && (query.no_dependencies != Some(true) || addon.dependencies.is_empty())
            && (query.no_secrets != Some(true) || addon.required_secrets.is_empty())
            && query.installed.is_none_or(|wanted| item.installed == wanted)
    };
    let mut found: Vec<(u32, Listed)> = listed
        .into_iter()
        .filter(wanted)
        .filter_map(
            |item| if words.is_empty() { Some((0, item)) } else { score(&item, &words).map(|score| (score, item)) },
        )
        .collect();
    let by_name = |a: &Listed, b: &Listed| a.addon.name.to_lowercase().cmp(&b.addon.name.to_lowercase());
    found.sort_by(|(score_a, a), (score_b, b)| {
        // A search ranks first; the chosen order breaks ties (and is the order without one).
        score_b.cmp(score_a).then_with(|| match query.sort.unwrap_or_default() {
            Sort::Name => by_name(a, b),
            Sort::NameDesc => by_name(b, a),
            // ISO dates sort as text; an addon without one goes last.
            Sort::Recent => b.addon.added.cmp(&a.addon.added).then_with(|| by_name(a, b)),
            Sort::Category => a.addon.category.cmp(&b.addon.category).then_with(|| by_name(a, b)),
        })
    });
    found.into_iter().map(|(_, item)| item).collect()
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Addon, AddonSource};
    use super::*;

    fn listed(id: &str, name: &str, kind: AddonType, change: impl FnOnce(&mut Addon)) -> Listed {
        let mut addon = Addon {
            id: id.into(),
            name: name.into(),
            addon_type: kind,
            category: "productivity".into(),
            description: format!("{name} for people"),
            author: "Luna Team".into(),
            version: "1".into(),
            source: AddonSource::Bundled,
            tags: vec![],
            has_ui: false,
            tool_count: 0,
            service_count: 0,
            required_secrets: vec![],
            dependencies: vec![],
            provides_vars: vec![],
            tools: vec![],
            added: None,
            docs_url: None,
            long_description: None,
        };
        change(&mut addon);
        Listed { addon, registry: "bundled".into(), installed: false }
    }

    fn catalog() -> Vec<Listed> {
        vec![
            listed("postgres", "PostgreSQL", AddonType::ExternalService, |addon| {
                addon.category = "database".into();
                addon.description = "Relational database".into();
                addon.provides_vars = vec!["DATABASE_URL".into()];
                addon.added = Some("2026-01-02".into());
            }),
            listed("memory", "Automation Memory", AddonType::Extension, |addon| {
                addon.dependencies = vec!["postgres".into()];
                addon.has_ui = true;
                addon.added = Some("2026-11-30".into());
            }),
            listed("notes", "Notes", AddonType::Extension, |addon| {
                addon.tags = vec!["database-free".into()];
                addon.required_secrets = vec!["OPENAI_API_KEY".into()];
            }),
            listed("database", "Database Tools", AddonType::Extension, |_| {}),
        ]
    }

    fn ids(found: Vec<Listed>) -> Vec<String> {
        found.into_iter().map(|item| item.addon.id).collect()
    }

    #[test]
    fn an_exact_name_comes_first_then_names_descriptions_and_tags() {
        let query = StoreQuery { q: Some("Database".into()), ..StoreQuery::default() };
        assert_eq!(ids(apply(catalog(), &query)), ["database", "postgres", "notes"]);
        let query = StoreQuery { q: Some("postgres".into()), ..StoreQuery::default() };
        assert_eq!(ids(apply(catalog(), &query)), ["postgres", "memory"], "a dependency matches too");
        let query = StoreQuery { q: Some("database_url".into()), ..StoreQuery::default() };
        assert_eq!(ids(apply(catalog(), &query)), ["postgres"], "what a service provides");
        let query = StoreQuery { q: Some("nothing like it".into()), ..StoreQuery::default() };
        assert!(apply(catalog(), &query).is_empty());
    }

    #[test]
    fn filters_combine_and_sorts_order() {
        let query = StoreQuery {
            addon_type: Some(AddonType::Extension),
            no_dependencies: Some(true),
            no_secrets: Some(true),
            ..StoreQuery::default()
        };
        assert_eq!(ids(apply(catalog(), &query)), ["database"]);
        let query = StoreQuery { has_ui: Some(true), ..StoreQuery::default() };
        assert_eq!(ids(apply(catalog(), &query)), ["memory"]);
        let query = StoreQuery { category: Some("DATABASE".into()), ..StoreQuery::default() };
        assert_eq!(ids(apply(catalog(), &query)), ["postgres"]);

        assert_eq!(ids(apply(catalog(), &StoreQuery::default())), ["memory", "database", "notes", "postgres"]);
        let recent = StoreQuery { sort: Some(Sort::Recent), ..StoreQuery::default() };
        assert_eq!(ids(apply(catalog(), &recent)), ["memory", "postgres", "database", "notes"]);
        let backwards = StoreQuery { sort: Some(Sort::NameDesc), ..StoreQuery::default() };
        assert_eq!(ids(apply(catalog(), &backwards)), ["postgres", "notes", "database", "memory"]);
    }
}
