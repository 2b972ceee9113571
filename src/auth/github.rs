//! GitHub as the identity provider: the OAuth authorization-code flow with PKCE (oauth2
//! crate), then `/user` and, when organizations are allowed, `/user/orgs`.
//!
//! GitHub's quirks handled here: the token endpoint reports errors with HTTP 200 and an
//! `error` field; `/user/orgs` is paginated through `Link` headers; every API call needs a
//! `User-Agent`. URLs are settings, so GitHub Enterprise and test stand-ins work alike.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;

use super::sessions::SessionUser;
use crate::allow_list::Account;
use crate::settings::GithubApp;

/// Scopes Luna asks for: the profile, e-mail addresses, and organization membership.
const SCOPES: [&str; 3] = ["read:user", "user:email", "read:org"];
/// Time limit for each call to GitHub.
const GITHUB_TIMEOUT: Duration = Duration::from_secs(10);
/// `/user/orgs` pages read at most (100 organizations each).
const MAX_ORG_PAGES: usize = 10;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

#[derive(Clone)]
pub struct Github {
    client: Client,
    http: reqwest::Client,
    api_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub refused the login: {0}")]
    Refused(String),
    #[error("GitHub could not be reached: {0}")]
    Unreachable(String),
    #[error("GitHub answered {status} for {what}: {detail}")]
    Api { what: &'static str, status: u16, detail: String },
}

/// A started login: where to send the browser, and what to remember until the callback.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub verifier: String,
}

#[derive(Debug, Deserialize)]
struct GithubUser {
    id: i64,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

/// GitHub's error document (sent with HTTP 200 by its token endpoint).
#[derive(Debug, Deserialize)]
struct ErrorDocument {
    error: String,
    error_description: Option<String>,
}

impl Github {
    pub fn new(app: &GithubApp, redirect_uri: &str) -> Result<Self, String> {
        let client = BasicClient::new(ClientId::new(app.client_id.clone()))
            .set_client_secret(ClientSecret::new(app.client_secret.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::new(app.authorize_url.clone()).map_err(|error| error.to_string())?)
            .set_token_uri(TokenUrl::new(app.token_url.clone()).map_err(|error| error.to_string())?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(|error| error.to_string())?);
        let http = reqwest::Client::builder()
            // Following redirects from an identity provider invites SSRF; GitHub sends none.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(GITHUB_TIMEOUT)
            .user_agent(concat!("luna/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Self { client, http, api_url: app.api_url.clone() })
    }

    /// A fresh authorization URL with its own `state` and PKCE S256 challenge.
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(SCOPES.iter().map(|scope| Scope::new(scope.to_string())))
            .set_pkce_challenge(challenge)
            .url();
        Authorization { url: url.to_string(), state: state.secret().clone(), verifier: verifier.secret().clone() }
    }

    /// Exchanges the callback's `code` (with the PKCE verifier) for an access token.
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<String, GithubError> {
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        Ok(token.access_token().secret().clone())
    }

    /// Checks the app's id, secret and callback URL with GitHub by redeeming a code that cannot
    /// exist: GitHub checks the client and the redirect URI against the app's registration
    /// (`incorrect_client_credentials`, `redirect_uri_mismatch`) and only then finds the code
    /// unknown (`bad_verification_code`), which means everything else is right.
    pub async fn check_app(&self) -> Result<(), GithubError> {
        match self.exchange("luna-doctor-probe", &"x".repeat(43)).await {
            Err(GithubError::Refused(reason)) if reason.starts_with("bad_verification_code") => Ok(()),
            Err(error) => Err(error),
            Ok(_) => Ok(()),
        }
    }

    /// Who the token belongs to.
    pub async fn user(&self, token: &str) -> Result<SessionUser, GithubError> {
        let user: GithubUser = self.get_json(&format!("{}/user", self.api_url), token, "the user").await?.0;
        Ok(SessionUser { id: user.id, login: user.login, name: user.name, avatar_url: user.avatar_url, orgs: vec![] })
    }

    /// Every organization the token's user belongs to.
    pub async fn orgs(&self, token: &str) -> Result<Vec<Account>, GithubError> {
        let mut orgs = Vec::new();
        let mut next = Some(format!("{}/user/orgs?per_page=100", self.api_url));
        for _ in 0..MAX_ORG_PAGES {
            let Some(url) = next.take() else { break };
            let (page, link): (Vec<Account>, Option<String>) = self.get_json(&url, token, "the organizations").await?;
            orgs.extend(page);
            // Only follow pages on the same API: a Link header is no reason to go elsewhere.
            next = link.and_then(|link| next_link(&link)).filter(|url| same_origin(url, &self.api_url));
        }
        Ok(orgs)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        token: &str,
        what: &'static str,
    ) -> Result<(T, Option<String>), GithubError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .send()
            .await
            .map_err(|error| GithubError::Unreachable(error.to_string()))?;
        let status = response.status();
        let link = response.headers().get("link").and_then(|value| value.to_str().ok()).map(str::to_string);
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let detail = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|json| json["message"].as_str().map(str::to_string))
                .unwrap_or(body);
            return Err(GithubError::Api { what, status: status.as_u16(), detail });
        }
        let value = response.json().await.map_err(|error| GithubError::Api {
            what,
            status: status.as_u16(),
            detail: format!("unexpected answer: {error}"),
        })?;
        Ok((value, link))
    }
}

fn token_error<E: std::error::Error>(error: RequestTokenError<E, oauth2::basic::BasicErrorResponse>) -> GithubError {
    match error {
        RequestTokenError::ServerResponse(response) => GithubError::Refused(response.to_string()),
        // GitHub's HTTP 200 with an error document does not parse as a token.
        RequestTokenError::Parse(_, body) => match serde_json::from_slice::<ErrorDocument>(&body) {
            Ok(document) => GithubError::Refused(match document.error_description {
                Some(description) => format!("{}: {description}", document.error),
                None => document.error,
            }),
            Err(_) => GithubError::Refused(format!("unexpected token answer: {}", String::from_utf8_lossy(&body))),
        },
        RequestTokenError::Request(error) => GithubError::Unreachable(crate::logging::error_chain(&error)),
        RequestTokenError::Other(message) => GithubError::Unreachable(message),
    }
}

/// True if `url` has the scheme, host and port of `base` (a string prefix is not enough:
/// `https://api.github.com.evil.tld` starts with `https://api.github.com`).
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(url), Ok(base)) => url.origin() == base.origin(),
        _ => false,
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|param| param.trim() == "rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_page() {
        let header = r#"<https://api.github.com/user/orgs?page=2>; rel="next", <https://api.github.com/user/orgs?page=5>; rel="last""#;
        assert_eq!(next_link(header).as_deref(), Some("https://api.github.com/user/orgs?page=2"));
        assert_eq!(next_link(r#"<https://x/1>; rel="prev""#), None);
    }

    #[test]
    fn pages_are_followed_on_the_same_origin_only() {
        assert!(same_origin("https://api.github.com/user/orgs?page=2", "https://api.github.com"));
        assert!(!same_origin("https://api.github.com.evil.tld/user/orgs", "https://api.github.com"));
        assert!(!same_origin("http://api.github.com/user/orgs", "https://api.github.com"));
    }
}
