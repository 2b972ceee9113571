//! The Hub: the web UI built from `hub_ui/` (by `build.rs`) and embedded in the binary.
//!
//! Hashed files under `/assets/` are cached for a year (their name changes with their
//! content); `index.html` answers every other page path (history routing: a reload or a pasted
//! link lands on the same page) and is revalidated on every load, with a Content-Security-
//! Policy that allows only Luna's own scripts, styles and frames. A gzip copy made at build
//! time is sent to browsers that accept it.
//!
//! `/api/*`, `/auth/*` and `/.well-known/*` paths that no handler claimed get a JSON 404,
//! never the page: clients of an API must not mistake HTML for an answer.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "$LUNA_HUB_DIR"]
struct Assets;

/// No inline script or style element, no plugin, no other origin, no frames (apps open on
/// their own origins), and the Hub itself never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
     object-src 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    // API, login and metadata paths never fall back to the page: they are answered by their
    // handlers or not at all (and `/auth` and `/.well-known` are public routes).
    let reserved = ["/api", "/auth", "/.well-known"];
    if reserved
        .iter()
        .any(|prefix| path == *prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
    {
        return ApiError::NotFound(format!("nothing at {path}")).into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
    }
    let gzip = accepts_gzip(&headers);
    let file = path.trim_start_matches('/');
    // Only files the build made: `index.html` is the page, never a file to ask for by name.
    if !file.is_empty() && file != "index.html" && !file.ends_with(".gz") && Assets::get(file).is_some() {
        let cache = if file.starts_with("assets/") { IMMUTABLE } else { "no-cache" };
        return asset(file, gzip, cache, &[]);
    }
    if file.starts_with("assets/") {
        // A stale page asking for a bundle of an earlier build: a 404, not the page as script.
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "no such asset").into_response();
    }
    asset(
        "index.html",
        gzip,
        "no-cache",
        &[
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
    )
}

/// `file` (which exists) with its type, its cache policy, and gzip when accepted and built.
fn asset(file: &str, gzip: bool, cache: &'static str, extra: &[(header::HeaderName, &'static str)]) -> Response {
    let compressed = gzip.then(|| Assets::get(&format!("{file}.gz"))).flatten();
    let Some(body) = compressed.as_ref().or(Assets::get(file).as_ref()).map(|embedded| embedded.data.clone()) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the Hub was not built into this binary").into_response();
    };
    let mut response = (StatusCode::OK, body.into_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(file)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if compressed.is_some() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    for (name, value) in extra {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            // `gzip;q=0` refuses it.
            name.eq_ignore_ascii_case("gzip") && !parts.any(|param| param.replace(' ', "") == "q=0")
        })
    })
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn gzip_is_sent_only_to_those_who_accept_it() {
        assert!(accepts_gzip(&gzip_header("gzip, deflate, br")));
        assert!(accepts_gzip(&gzip_header("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(&gzip_header("gzip;q=0, br")));
        assert!(!accepts_gzip(&gzip_header("deflate")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_built_hub_is_embedded_with_its_hashed_bundle() {
        let index = Assets::get("index.html").expect("index.html is embedded");
        let page = String::from_utf8_lossy(&index.data);
        let script = page.split("src=\"/assets/").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
        assert!(Assets::get(&format!("assets/{script}")).is_some(), "{script}");
        assert!(Assets::get(&format!("assets/{script}.gz")).is_some(), "{script}.gz");
        assert!(!page.contains("<script>"), "no inline script: {page}");
    }
}
