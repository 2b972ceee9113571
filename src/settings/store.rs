//! `[store]`: the registries the Addon Store lists besides what ships with Luna (SPEC §14).

use serde::Deserialize;

use super::{Environment, Origin, SettingsError};

/// More registries than this is a mistake, not a catalog.
const MAX_REGISTRIES: usize = 16;

/// The `[store]` table of `luna.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoreSection {
    pub registries: Option<Vec<String>>,
}

impl StoreSection {
    /// `store.registries` (env `LUNA_STORE_REGISTRIES`, comma-separated): `https://` URLs of
    /// `registry.json` files; plain `http://` only on loopback.
    pub fn registries(self, origin: &Origin, env: &dyn Environment) -> Result<Vec<String>, SettingsError> {
        let (urls, from) = match env.var("LUNA_STORE_REGISTRIES") {
            Some(list) => (super::split_list(&list), Origin::Env("LUNA_STORE_REGISTRIES")),
            None => (self.registries.unwrap_or_default(), origin.clone()),
        };
        if urls.len() > MAX_REGISTRIES {
            let reason = format!("{} registries; at most {MAX_REGISTRIES}", urls.len());
            return Err(SettingsError::new("store.registries", from, reason));
        }
        urls.into_iter()
            .map(|url| {
                check_url(url.trim()).map_err(|reason| SettingsError::new("store.registries", from.clone(), reason))
            })
            .collect()
    }
}

fn check_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|error| format!("`{url}` is not a URL: {error}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(url.to_string()),
        "http" if loopback => Ok(url.to_string()),
        "http" => Err(format!("`{url}`: a registry is fetched over https (plain http only on loopback)")),
        other => Err(format!("`{url}`: {other}: is not http(s)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_https_or_loopback() {
        assert!(check_url("https://example.com/registry.json").is_ok());
        assert!(check_url("http://127.0.0.1:8000/registry.json").is_ok());
        assert!(check_url("http://example.com/registry.json").unwrap_err().contains("https"));
        assert!(check_url("file:///etc/passwd").is_err());
    }
}
