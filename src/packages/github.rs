//! GitHub's REST API, for what installing needs: a ref resolved to its commit, and the
//! tarball of that commit. No `git` binary. A `GITHUB_TOKEN` key (private repositories,
//! higher rate limits) is sent to the API host only: the tarball answer is a redirect to
//! another host (codeload), and reqwest drops the `Authorization` header across hosts.

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::source::GithubSource;

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// What the user named does not exist (or is private and no token can see it).
    #[error("{0}")]
    NotFound(String),
    /// GitHub refused or failed; the message says what to do.
    #[error("{0}")]
    Refused(String),
}

pub struct Github {
    http: reqwest::Client,
    api_url: String,
}

impl Github {
    pub fn new(api_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("luna/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .build()
            .expect("a TLS backend is compiled in");
        Self { http, api_url: api_url.trim_end_matches('/').to_string() }
    }

    fn get(&self, url: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.http.get(url).header("X-GitHub-Api-Version", "2022-11-28");
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn repo_url(&self, source: &GithubSource) -> String {
        format!("{}/repos/{}/{}", self.api_url, source.owner, source.repo)
    }

    /// The commit `source`'s ref (or the default branch) names now.
    pub async fn resolve(&self, source: &GithubSource, token: Option<&str>) -> Result<String, GithubError> {
        let repository = format!("{}/{}", source.owner, source.repo);
        let reference = match &source.reference {
            Some(reference) => reference.clone(),
            None => {
                let response = self.send(self.get(&self.repo_url(source), token), &repository, token).await?;
                let info: serde_json::Value = response.json().await.map_err(|error| {
                    GithubError::Refused(format!("GitHub's answer about {repository} is not JSON: {error}"))
                })?;
                info["default_branch"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| GithubError::Refused(format!("GitHub names no default branch for {repository}")))?
            }
        };
        // Refs are checked to be URL-safe; a `/` in a branch name goes as it is, as GitHub takes it.
        let url = format!("{}/commits/{reference}", self.repo_url(source));
        let request = self.get(&url, token).header(reqwest::header::ACCEPT, "application/vnd.github.sha");
        let response = match self.send(request, &repository, token).await {
            Err(GithubError::Refused(message)) if message.contains("HTTP 422") => {
                return Err(GithubError::NotFound(format!("{repository} has no branch, tag or commit `{reference}`")));
            }
            other => other?,
        };
        let sha = response.text().await.map_err(|error| GithubError::Refused(error.to_string()))?;
        let sha = sha.trim();
        if sha.len() != 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(GithubError::Refused(format!("GitHub answered `{sha:.50}` for a commit of {repository}")));
        }
        Ok(sha.to_ascii_lowercase())
    }

    /// Saves the tarball of `commit` to `file`, at most `max_bytes` of it.
    pub async fn download(
        &self,
        source: &GithubSource,
        commit: &str,
        token: Option<&str>,
        file: &Path,
        max_bytes: u64,
    ) -> Result<(), GithubError> {
        let repository = format!("{}/{}", source.owner, source.repo);
        let url = format!("{}/tarball/{commit}", self.repo_url(source));
        let mut response = self.send(self.get(&url, token), &repository, token).await?;
        let failed = |error: &dyn std::fmt::Display| GithubError::Refused(format!("downloading {repository}: {error}"));
        let mut out = tokio::fs::File::create(file).await.map_err(|error| failed(&error))?;
        let mut total = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|error| failed(&error))? {
            total += chunk.len() as u64;
            if total > max_bytes {
                return Err(GithubError::Refused(format!(
                    "{repository}'s archive is larger than {} MiB",
                    max_bytes >> 20
                )));
            }
            out.write_all(&chunk).await.map_err(|error| failed(&error))?;
        }
        out.flush().await.map_err(|error| failed(&error))?;
        Ok(())
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        repository: &str,
        token: Option<&str>,
    ) -> Result<reqwest::Response, GithubError> {
        let response = request
            .send()
            .await
            .map_err(|error| GithubError::Refused(format!("cannot reach GitHub for {repository}: {error}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let exhausted = response.headers().get("x-ratelimit-remaining").is_some_and(|value| value == "0");
        Err(match status.as_u16() {
            // GitHub answers 404, not 403, for a private repository the caller cannot see.
            404 if token.is_none() => GithubError::NotFound(format!(
                "github:{repository} does not exist, or is private: add a GITHUB_TOKEN key that can read it"
            )),
            404 => GithubError::NotFound(format!("github:{repository} does not exist or GITHUB_TOKEN cannot read it")),
            401 => GithubError::Refused("GitHub refused the GITHUB_TOKEN key (bad credentials)".into()),
            403 | 429 if exhausted => {
                GithubError::Refused("GitHub's rate limit is used up; try again later or add a GITHUB_TOKEN key".into())
            }
            code => GithubError::Refused(format!("GitHub answered HTTP {code} for {repository}")),
        })
    }
}
