//! What tool hosts offer besides tools: resources, resource templates and prompts, as part of
//! the catalog snapshot.
//!
//! They pass through unchanged: a prompt keeps its name, a resource its URI, so a client sees
//! what it would see connected to the server directly. Names and URIs are unique across
//! extensions by the rule tools follow: the extension first in alphabetical order keeps a
//! prompt name, resource URI or URI template, and the other's is listed with the collision as
//! its problem, never served. A URI that is not a listed resource is read from the first
//! template (extensions in name order) it matches.
//!
//! MCP says who decides to use each: prompts are chosen by the user, resources by the
//! application, tools by the model. So tools are off until switched on (a model acts through
//! them), while the prompts and resources of an enabled extension are on until switched off
//! (`prompt_configs` / `resource_configs` in `master_config.json`).

use std::collections::BTreeMap;

use rmcp::model::{Prompt, Resource, ResourceTemplate};
use rmcp::service::{Peer, RoleClient};

/// What one host listed besides its tools.
#[derive(Clone, Default)]
pub struct HostOffers {
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
}

/// The items switched off (`false`) or on (`true`) by configuration; one not named is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferFlags {
    /// By prompt name.
    pub prompts: BTreeMap<String, bool>,
    /// By resource URI or URI template.
    pub resources: BTreeMap<String, bool>,
}

/// One resource, template or prompt in the catalog.
#[derive(Clone)]
pub struct Offered<T> {
    pub extension: String,
    pub definition: T,
    pub enabled: bool,
    /// Why it is not served (a name or URI another extension already has).
    pub problem: Option<String>,
    pub(super) peer: Peer<RoleClient>,
}

impl<T> Offered<T> {
    /// Listed and served at `/api/mcp`.
    pub fn in_mcp(&self) -> bool {
        self.enabled && self.problem.is_none()
    }

    /// The host that serves it.
    pub fn host(&self) -> &Peer<RoleClient> {
        &self.peer
    }
}

/// The resources, templates and prompts of every host, keyed by URI, URI template and name
/// (a loser of a collision under `<extension>/<key>`).
#[derive(Clone, Default)]
pub struct OfferCatalog {
    pub resources: BTreeMap<String, Offered<Resource>>,
    pub templates: BTreeMap<String, Offered<ResourceTemplate>>,
    pub prompts: BTreeMap<String, Offered<Prompt>>,
}

impl OfferCatalog {
    pub fn build<'a>(
        hosts: impl Iterator<Item = (&'a str, &'a HostOffers, &'a Peer<RoleClient>)> + Clone,
        flags: &OfferFlags,
    ) -> Self {
        let on = |map: &BTreeMap<String, bool>, key: &str| map.get(key).copied().unwrap_or(true);
        let resources = hosts.clone().flat_map(|(extension, offers, peer)| {
            offers.resources.iter().map(move |resource| (extension, resource.uri.clone(), resource.clone(), peer))
        });
        let templates = hosts.clone().flat_map(|(extension, offers, peer)| {
            offers
                .templates
                .iter()
                .map(move |template| (extension, template.uri_template.clone(), template.clone(), peer))
        });
        let prompts = hosts.flat_map(|(extension, offers, peer)| {
            offers.prompts.iter().map(move |prompt| (extension, prompt.name.clone(), prompt.clone(), peer))
        });
        OfferCatalog {
            resources: unique(resources, |key| on(&flags.resources, key)),
            templates: unique(templates, |key| on(&flags.resources, key)),
            prompts: unique(prompts, |key| on(&flags.prompts, key)),
        }
    }

    /// The extension and host that serve a read of `uri`, if a resource or template offered at
    /// `/api/mcp` covers it. A listed resource that is switched off is not read through a
    /// template either.
    pub fn reader_of(&self, uri: &str) -> Option<(&str, &Peer<RoleClient>)> {
        if let Some(resource) = self.resources.get(uri) {
            return resource.in_mcp().then(|| (resource.extension.as_str(), resource.host()));
        }
        let mut templates: Vec<_> = self.templates.values().filter(|template| template.in_mcp()).collect();
        templates.sort_by(|a, b| a.extension.cmp(&b.extension));
        let template =
            templates.into_iter().find(|template| matches_template(&template.definition.uri_template, uri))?;
        Some((template.extension.as_str(), template.host()))
    }

    /// What a client sees of resources and templates; a change means `list_changed`.
    pub fn resources_signature(&self) -> (Vec<&Resource>, Vec<&ResourceTemplate>) {
        let resources = self.resources.values().filter(|item| item.in_mcp()).map(|item| &item.definition);
        let templates = self.templates.values().filter(|item| item.in_mcp()).map(|item| &item.definition);
        (resources.collect(), templates.collect())
    }

    /// What a client sees of prompts; a change means `list_changed`.
    pub fn prompts_signature(&self) -> Vec<&Prompt> {
        self.prompts.values().filter(|item| item.in_mcp()).map(|item| &item.definition).collect()
    }
}

/// Keys first come, first served; `items` come in extension name order.
fn unique<'a, T>(
    items: impl Iterator<Item = (&'a str, String, T, &'a Peer<RoleClient>)>,
    enabled: impl Fn(&str) -> bool,
) -> BTreeMap<String, Offered<T>> {
    let mut offered: BTreeMap<String, Offered<T>> = BTreeMap::new();
    for (extension, key, definition, peer) in items {
        let mut item = Offered {
            extension: extension.to_string(),
            definition,
            enabled: enabled(&key),
            problem: None,
            peer: peer.clone(),
        };
        match offered.get(&key) {
            Some(owner) if owner.extension != extension => {
                item.problem = Some(format!("`{key}` is already offered by extension `{}`", owner.extension));
                offered.insert(format!("{extension}/{key}"), item);
            }
            // A host that lists the same key twice: the first one stands.
            Some(_) => {}
            None => {
                offered.insert(key, item);
            }
        }
    }
    offered
}

/// Whether `uri` is an expansion of the RFC 6570 `template`. Simple expressions (`{id}`) match
/// one path segment, reserved ones (`{+path}`, `{#frag}`) any text, and the form-style query
/// (`{?a,b}`, `{&c}`) an optional query part. Literal text must match exactly.
pub fn matches_template(template: &str, uri: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { return false };
        parts.push(Part::Literal(&rest[..open]));
        let expression = &rest[open + 1..open + close];
        parts.push(match expression.chars().next() {
            Some('+' | '#') => Part::Any,
            Some('?' | '&') => Part::Query,
            _ => Part::Segment,
        });
        rest = &rest[open + close + 1..];
    }
    parts.push(Part::Literal(rest));
    matches_parts(&parts, uri)
}

#[derive(Clone, Copy)]
enum Part<'a> {
    Literal(&'a str),
    /// One or more characters, none of `/ ? #`.
    Segment,
    /// One or more characters.
    Any,
    /// Nothing, or a query part up to the end or a `#`.
    Query,
}

fn matches_parts(parts: &[Part], uri: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else { return uri.is_empty() };
    match first {
        Part::Literal(text) => uri.strip_prefix(text).is_some_and(|uri| matches_parts(rest, uri)),
        Part::Segment => {
            let longest = uri.find(['/', '?', '#']).unwrap_or(uri.len());
            (1..=longest).rev().any(|end| matches_parts(rest, &uri[end..]))
        }
        Part::Any => {
            (1..=uri.len()).rev().filter(|end| uri.is_char_boundary(*end)).any(|end| matches_parts(rest, &uri[end..]))
        }
        Part::Query => {
            let end = if uri.starts_with(['?', '&']) { uri.find('#').unwrap_or(uri.len()) } else { 0 };
            (0..=end).rev().filter(|end| uri.is_char_boundary(*end)).any(|end| matches_parts(rest, &uri[end..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_their_expansions_only() {
        assert!(matches_template("test://template/{id}/data", "test://template/123/data"));
        assert!(!matches_template("test://template/{id}/data", "test://template/1/2/data"), "one segment");
        assert!(!matches_template("test://template/{id}/data", "test://template//data"), "not empty");
        assert!(!matches_template("test://template/{id}/data", "test://template/123/data/x"));
        assert!(matches_template("file:///{+path}", "file:///home/me/notes.md"));
        assert!(matches_template("search://{q}{?limit,page}", "search://cats"));
        assert!(matches_template("search://{q}{?limit,page}", "search://cats?limit=3"));
        assert!(!matches_template("search://{q}{?limit}", "other://cats"));
        assert!(matches_template("static://fixed", "static://fixed"));
        assert!(!matches_template("broken://{id", "broken://{id"), "an unclosed expression matches nothing");
    }
}
