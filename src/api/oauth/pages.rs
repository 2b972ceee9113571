//! The HTML pages of the authorization flow: the consent page, and the pages that stop a
//! request or tell the user what happened. All markup is Luna's own; anything that came
//! with a request is escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::html::escape;
use crate::oauth::{PendingConsent, redirect_uri};

/// A page about a problem with the request itself: shown, never redirected.
pub fn problem(status: StatusCode, message: &str) -> Response {
    let body = format!("<p>{}</p><p>Nothing was sent back to the application.</p>", escape(message));
    luna_page(status, "This sign-in request cannot continue", &body)
}

/// The consent page for consent `consent_id`, asking for access to `resource`.
pub fn consent(consent_id: &str, consent: &PendingConsent, resource: &str) -> Response {
    let request = &consent.request;
    let destination = redirect_uri::display_host(&request.redirect_uri);
    // A name is always in quotes, so no name can pass for Luna's words about a nameless one.
    let who = match &request.client.client_name {
        Some(name) => format!("<strong>“{}”</strong>", escape(name)),
        None => format!("<strong>An application that gave no name</strong>, at {}", escape(&destination)),
    };
    let unverified = if crate::oauth::cimd::is_metadata_url(&request.client.client_id) {
        format!(" (it describes itself at <code>{}</code>)", escape(&request.client.client_id))
    } else if request.client.client_name.is_some() {
        " (the name is the application's own claim; Luna cannot verify it)".to_string()
    } else {
        String::new()
    };
    let body = format!(
        "<p>{who}{unverified} wants to use the tools of this Luna as \
         <strong>@{login}</strong>.</p>\
         <ul><li>Access: <code>{scope}</code>: list and call the tools at <code>{resource}</code></li>\
         <li>If you allow it, you go to <strong>{destination}</strong></li></ul>\
         <form method=\"post\" action=\"/api/authorize\">\
         <input type=\"hidden\" name=\"consent\" value=\"{consent_id}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>\
         <p><small>You can disconnect it any time from the Hub or with <code>luna clients revoke</code>.</small></p>",
        login = escape(&request.user.login),
        scope = escape(&request.scope),
        resource = escape(resource),
        destination = escape(&destination),
        consent_id = escape(consent_id),
        csrf = escape(&consent.csrf),
    );
    luna_page(StatusCode::OK, "Allow access to Luna?", &body)
}

/// The user denied a client they never approved: the way back is a link they may follow.
pub fn denied(url: &str, host: &str) -> Response {
    let body = format!(
        "<p>Nothing was shared with the application.</p>\
         <p><a href=\"{url}\">Tell it so at {host}</a>, or close this page.</p>",
        url = escape(url),
        host = escape(host),
    );
    luna_page(StatusCode::OK, "Access denied", &body)
}

/// Luna's own page markup around `body_html` (which must be Luna's own markup). Never
/// framed: a consent page inside another site's frame could be clickjacked.
fn luna_page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{title} · Luna</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem\">\
         <h1>{title}</h1>{body_html}</body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // No `form-action`: Chromium and Safari apply it to the redirect that answers the form,
    // which goes to the client. The form is Luna's own markup and carries a CSRF token.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    // Not `no-referrer`: with it, browsers send `Origin: null` on the form's POST, which the
    // gateway (rightly) treats as another site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
