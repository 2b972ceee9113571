//! `[extensions]`: where `github:` extension sources resolve (SPEC §14).

use serde::Deserialize;

use super::{Environment, Origin, SettingsError};

/// The `[extensions]` table of `luna.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExtensionsSection {
    pub github_api_url: Option<String>,
}

impl ExtensionsSection {
    /// `extensions.github_api_url` (env `LUNA_EXTENSIONS_GITHUB_API_URL`), else GitHub's API as
    /// the login uses it (`auth.github.api_url`): one GitHub, unless told otherwise.
    pub fn github_api_url(
        self,
        origin: &Origin,
        env: &dyn Environment,
        login_api: &str,
    ) -> Result<String, SettingsError> {
        let Some((url, from)) = super::env_or_file("LUNA_EXTENSIONS_GITHUB_API_URL", env, self.github_api_url, origin)
        else {
            return Ok(login_api.to_string());
        };
        match reqwest::Url::parse(&url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(url.trim_end_matches('/').to_string()),
            _ => Err(SettingsError::new(
                "extensions.github_api_url",
                from,
                format!("`{url}` is not an http(s) URL like https://api.github.com"),
            )),
        }
    }
}
