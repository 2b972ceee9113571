//! A stand-in for GitHub's repository API on loopback, as Luna's installer uses it, with
//! GitHub's quirks: a private repository is 404 (not 403) without a token that can read
//! it; an unknown ref is 422; `commits/{ref}` with `Accept: application/vnd.github.sha`
//! answers the bare sha; `tarball/{sha}` is a 302 to another host (codeload) with a
//! short-lived token in the URL for private repositories; the tarball has a pax global
//! header and one top folder `owner-repo-<short sha>/`. Requests without a User-Agent are
//! refused, as GitHub does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

pub const TOKEN: &str = "ghp_standin_token_0123456789";

/// A repository's files at one commit.
pub type Tree = BTreeMap<String, Vec<u8>>;

#[derive(Default)]
struct Repo {
    private: bool,
    default_branch: String,
    /// Branch or tag → commit.
    refs: BTreeMap<String, String>,
    commits: BTreeMap<String, Tree>,
}

#[derive(Default)]
struct Inner {
    repos: BTreeMap<String, Repo>,
    /// `Authorization` headers that reached the codeload host (they must not).
    leaked_to_codeload: usize,
    /// The unauthenticated rate limit is used up.
    rate_limited: bool,
}

#[derive(Clone)]
pub struct StandInRepos {
    pub address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl StandInRepos {
    pub fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = routes(inner.clone());
        let listener = super::runtime().block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        super::runtime().spawn(async move { axum::serve(listener, app).await });
        Self { address, inner }
    }

    /// The same repositories, for a server that also answers GitHub's login (one `api_url`).
    pub fn router(&self) -> Router {
        routes(self.inner.clone())
    }

    /// `[auth.github]` pointing Luna's API calls here.
    pub fn config(&self) -> String {
        format!("[auth.github]\napi_url = \"http://{}/api\"\n", self.address)
    }

    /// Adds a commit of `owner/repo` holding `tree`, and points `refs` at it (the first
    /// commit of a repository also makes its default branch `main`). Returns the sha.
    pub fn push(&self, full_name: &str, private: bool, refs: &[&str], tree: Tree) -> String {
        let mut inner = self.inner.lock().unwrap();
        let repo = inner.repos.entry(full_name.to_string()).or_insert_with(|| Repo {
            private,
            default_branch: "main".into(),
            ..Repo::default()
        });
        let mut hasher = Sha256::new();
        hasher.update(full_name.as_bytes());
        hasher.update(repo.commits.len().to_le_bytes());
        for (path, contents) in &tree {
            hasher.update(path.as_bytes());
            hasher.update(contents);
        }
        let sha: String = hasher.finalize().iter().take(20).map(|byte| format!("{byte:02x}")).collect();
        repo.commits.insert(sha.clone(), tree);
        for reference in refs {
            repo.refs.insert(reference.to_string(), sha.clone());
        }
        sha
    }

    /// The SHA-256 of the archive GitHub serves for `full_name` at `sha`, as a registry that
    /// pins it records it.
    pub fn archive_sha256(&self, full_name: &str, sha: &str) -> String {
        let inner = self.inner.lock().unwrap();
        let tree = &inner.repos[full_name].commits[sha];
        let top = format!("{}-{}", full_name.replace('/', "-"), &sha[..7]);
        Sha256::digest(tarball_of(&top, sha, tree)).iter().map(|byte| format!("{byte:02x}")).collect()
    }

    pub fn use_up_the_rate_limit(&self) {
        self.inner.lock().unwrap().rate_limited = true;
    }

    pub fn leaked_to_codeload(&self) -> usize {
        self.inner.lock().unwrap().leaked_to_codeload
    }
}

fn routes(inner: Arc<Mutex<Inner>>) -> Router {
    Router::new()
        .route("/api/repos/{owner}/{repo}", get(repository))
        .route("/api/repos/{owner}/{repo}/commits/{*reference}", get(commit))
        .route("/api/repos/{owner}/{repo}/tarball/{sha}", get(tarball))
        .route("/codeload/{owner}/{repo}/legacy.tar.gz/{sha}", get(codeload))
        .with_state(inner)
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "message": text, "documentation_url": "https://docs.github.com/rest" })))
        .into_response()
}

/// The repository, if this caller may see it.
fn visible<'a>(inner: &'a Inner, owner: &str, repo: &str, headers: &HeaderMap) -> Result<&'a Repo, Box<Response>> {
    if headers.get(header::USER_AGENT).is_none() {
        return Err(Box::new(message(StatusCode::FORBIDDEN, "Request forbidden by administrative rules.")));
    }
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    if inner.rate_limited && authorization.is_none() {
        let mut response = message(StatusCode::FORBIDDEN, "API rate limit exceeded for 127.0.0.1.");
        response.headers_mut().insert("x-ratelimit-remaining", "0".parse().unwrap());
        return Err(Box::new(response));
    }
    if authorization.is_some_and(|value| value != format!("Bearer {TOKEN}")) {
        return Err(Box::new(message(StatusCode::UNAUTHORIZED, "Bad credentials")));
    }
    match inner.repos.get(&format!("{owner}/{repo}")) {
        Some(found) if !found.private || authorization.is_some() => Ok(found),
        _ => Err(Box::new(message(StatusCode::NOT_FOUND, "Not Found"))),
    }
}

async fn repository(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let inner = inner.lock().unwrap();
    match visible(&inner, &owner, &repo, &headers) {
        Ok(found) => axum::Json(serde_json::json!({
            "full_name": format!("{owner}/{repo}"),
            "private": found.private,
            "default_branch": found.default_branch,
        }))
        .into_response(),
        Err(response) => *response,
    }
}

async fn commit(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let inner = inner.lock().unwrap();
    let found = match visible(&inner, &owner, &repo, &headers) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let sha = found.refs.get(&reference).cloned().or_else(|| {
        // A (possibly abbreviated) commit id names that commit.
        let matches: Vec<&String> =
            found.commits.keys().filter(|sha| reference.len() >= 7 && sha.starts_with(&reference)).collect();
        (matches.len() == 1).then(|| matches[0].clone())
    });
    let Some(sha) = sha else {
        return message(StatusCode::UNPROCESSABLE_ENTITY, &format!("No commit found for SHA: {reference}"));
    };
    let wants_sha = headers.get(header::ACCEPT).is_some_and(|accept| accept == "application/vnd.github.sha");
    if wants_sha { sha.into_response() } else { axum::Json(serde_json::json!({ "sha": sha })).into_response() }
}

async fn tarball(
    State(state): State<Arc<Mutex<Inner>>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let inner = state.lock().unwrap();
    let found = match visible(&inner, &owner, &repo, &headers) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if !found.commits.contains_key(&sha) {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    // Another host, as codeload.github.com is: `localhost`, not the API's `127.0.0.1`.
    let port = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| host.rsplit(':').next())
        .unwrap_or("80")
        .to_string();
    let token = if found.private { "?token=ABCDEF-short-lived" } else { "" };
    let location = format!("http://localhost:{port}/codeload/{owner}/{repo}/legacy.tar.gz/{sha}{token}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

#[derive(serde::Deserialize)]
struct CodeloadQuery {
    token: Option<String>,
}

async fn codeload(
    State(state): State<Arc<Mutex<Inner>>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Query(query): Query<CodeloadQuery>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock().unwrap();
    if headers.contains_key(header::AUTHORIZATION) {
        inner.leaked_to_codeload += 1;
    }
    let Some(found) = inner.repos.get(&format!("{owner}/{repo}")) else {
        return (StatusCode::NOT_FOUND, "404: Not Found").into_response();
    };
    if found.private && query.token.as_deref() != Some("ABCDEF-short-lived") {
        return (StatusCode::NOT_FOUND, "404: Not Found").into_response();
    }
    let Some(tree) = found.commits.get(&sha) else { return (StatusCode::NOT_FOUND, "404: Not Found").into_response() };
    let body = tarball_of(&format!("{owner}-{repo}-{}", &sha[..7]), &sha, tree);
    ([(header::CONTENT_TYPE, "application/x-gzip")], body).into_response()
}

/// A gzipped tarball as GitHub makes one: a pax global header with the commit, then every
/// file under `top/`.
pub fn tarball_of(top: &str, sha: &str, tree: &Tree) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let comment = format!("comment={sha}\n");
    let record = format!("{} {comment}", comment.len() + 3);
    let mut global = tar::Header::new_ustar();
    global.set_entry_type(tar::EntryType::XGlobalHeader);
    global.set_size(record.len() as u64);
    tar.append_data(&mut global, "pax_global_header", record.as_bytes()).unwrap();
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o775);
    dir.set_size(0);
    tar.append_data(&mut dir, format!("{top}/"), std::io::empty()).unwrap();
    for (path, contents) in tree {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(if path.ends_with(".sh") { 0o775 } else { 0o664 });
        header.set_size(contents.len() as u64);
        tar.append_data(&mut header, format!("{top}/{path}"), contents.as_slice()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}
