//! Responses the gateway writes itself: `/healthz`, refusals and upstream-failure pages.
//!
//! Browsers get a small HTML page; API clients and scripts get JSON with the same facts.

use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::Session;

/// Browsers remember for a year that this site is HTTPS only. Subdomains are not included:
/// they may be other people's (`*.nip.io`) or other services.
pub const HSTS: &str = "max-age=31536000";

/// A response that does not come from an upstream.
pub struct LocalResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    pub location: Option<String>,
    /// `Set-Cookie` lines: Luna's own cookies of an app origin's login hop.
    pub cookies: Vec<String>,
}

impl LocalResponse {
    pub fn text(status: u16, body: &'static str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from_static(body.as_bytes()),
            location: None,
            cookies: Vec::new(),
        }
    }

    pub fn with_cookie(mut self, set_cookie: String) -> Self {
        self.cookies.push(set_cookie);
        self
    }

    /// A computed plain-text body (an ACME key authorization).
    pub fn plain(status: u16, body: String) -> Self {
        Self { body: Bytes::from(body), ..Self::text(status, "") }
    }

    /// A permanent redirect that keeps the method (308). `location` is a local path, or
    /// Luna's own HTTPS origin.
    pub fn redirect(location: &str) -> Self {
        Self { location: Some(location.to_string()), ..Self::text(308, "") }
    }

    /// A temporary redirect (302). `location` is a local path, or an origin of this Luna.
    pub fn found(location: &str) -> Self {
        Self { location: Some(location.to_string()), ..Self::text(302, "") }
    }

    /// An error naming what failed; HTML for browsers, JSON otherwise.
    pub fn error(request: &RequestHeader, status: u16, error: &str, detail: &str) -> Self {
        if wants_html(request) {
            let title = reason(status);
            let body = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{status} {title}</title></head>\
                 <body><h1>{status} {title}</h1><p>{}</p><p><small>Luna gateway</small></p></body></html>\n",
                crate::html::escape(detail)
            );
            Self { content_type: "text/html; charset=utf-8", body: Bytes::from(body), ..Self::text(status, "") }
        } else {
            let body = serde_json::json!({ "error": error, "detail": detail }).to_string();
            Self { content_type: "application/json", body: Bytes::from(body), ..Self::text(status, "") }
        }
    }

    /// Writes the whole response, with the request's id. The downstream connection stays
    /// reusable.
    pub async fn send(self, session: &mut Session, request_id: &str) -> Result<()> {
        let mut header = ResponseHeader::build(self.status, Some(4))?;
        header.insert_header("x-request-id", request_id)?;
        header.insert_header("content-type", self.content_type)?;
        header.insert_header("content-length", self.body.len().to_string())?;
        header.insert_header("cache-control", "no-store")?;
        if let Some(location) = self.location {
            header.insert_header("location", location)?;
        }
        for cookie in self.cookies {
            header.append_header("set-cookie", cookie)?;
        }
        if is_tls(session) {
            header.insert_header("strict-transport-security", HSTS)?;
        }
        let head_only = session.req_header().method == "HEAD";
        session.write_response_header(Box::new(header), head_only).await?;
        if !head_only {
            session.write_response_body(Some(self.body), true).await?;
        }
        Ok(())
    }
}

/// The request came over the HTTPS listener.
pub fn is_tls(session: &Session) -> bool {
    session.digest().is_some_and(|digest| digest.ssl_digest.is_some())
}

/// Browsers navigating to a page ask for HTML; `fetch`/XHR calls and scripts do not.
pub fn wants_html(request: &RequestHeader) -> bool {
    let header = |name: &str| request.headers.get(name).and_then(|value| value.to_str().ok());
    let is_xhr = header("x-requested-with").is_some_and(|value| value.eq_ignore_ascii_case("xmlhttprequest"));
    !is_xhr && header("accept").is_some_and(|accept| accept.contains("text/html"))
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason()).unwrap_or("Error")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut request = RequestHeader::build("GET", b"/", None).unwrap();
        for (name, value) in headers {
            request.insert_header(name.to_string(), *value).unwrap();
        }
        request
    }

    #[test]
    fn browsers_get_html_and_scripts_get_json() {
        let browser = request(&[("accept", "text/html,application/xhtml+xml")]);
        assert_eq!(
            LocalResponse::error(&browser, 502, "upstream_unavailable", "x").content_type,
            "text/html; charset=utf-8"
        );

        let xhr = request(&[("accept", "text/html"), ("x-requested-with", "XMLHttpRequest")]);
        assert_eq!(LocalResponse::error(&xhr, 502, "upstream_unavailable", "x").content_type, "application/json");

        let curl = request(&[("accept", "*/*")]);
        let response = LocalResponse::error(&curl, 502, "upstream_unavailable", "ext:hello is down");
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json["detail"], "ext:hello is down");
    }

    #[test]
    fn html_detail_is_escaped() {
        let browser = request(&[("accept", "text/html")]);
        let response = LocalResponse::error(&browser, 400, "bad_path", "<script>");
        let body = std::str::from_utf8(&response.body).unwrap();
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>"));
    }
}
