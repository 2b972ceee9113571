//! Which redirect URIs a client may register, and when a requested one matches.
//!
//! - Registration accepts `https://` URIs, `http://` only on a loopback host (a native app's
//!   local callback, RFC 8252 §7.3), and private-use schemes of native apps
//!   (`cursor://...`, RFC 8252 §7.1). Never a fragment, never user info, never a scheme a
//!   browser would run (`javascript:`, `data:`, ...).
//! - A requested URI must equal a registered one byte for byte; the only exception is the
//!   port of a loopback `http://` URI, which the app picks at run time (RFC 8252 §7.3).

use reqwest::Url;

/// Schemes that are never a redirect target.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss"];
/// Longest redirect URI accepted.
pub const MAX_LENGTH: usize = 2048;

/// Why `uri` cannot be registered, if it cannot.
pub fn check_registrable(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_LENGTH {
        return Err(format!("a redirect URI is longer than {MAX_LENGTH} characters"));
    }
    let url = Url::parse(uri).map_err(|error| format!("`{uri}` is not an absolute URI: {error}"))?;
    if url.fragment().is_some() {
        return Err(format!("`{uri}` has a fragment, which redirect URIs must not have"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{uri}` carries user info"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!("`{uri}`: plain http is only allowed for a loopback host (127.0.0.1, [::1], localhost)")),
        scheme if FORBIDDEN_SCHEMES.contains(&scheme) => Err(format!("`{uri}`: the {scheme}: scheme is not allowed")),
        _ => Ok(()),
    }
}

/// True if `requested` is one of `registered` (loopback http: any port).
pub fn matches(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|uri| uri == requested) {
        return true;
    }
    let Ok(requested_url) = Url::parse(requested) else { return false };
    if requested_url.scheme() != "http" || !is_loopback(&requested_url) {
        return false;
    }
    registered.iter().filter_map(|uri| Url::parse(uri).ok()).any(|mut candidate| {
        if candidate.scheme() != "http" || !is_loopback(&candidate) {
            return false;
        }
        // Compare everything but the port, as the parser normalised it.
        candidate.set_port(requested_url.port()).is_ok() && candidate.as_str() == requested_url.as_str()
    })
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The host a redirect goes to, as the consent page names it.
pub fn display_host(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(url) => match url.host_str() {
            Some(host) => host.to_string(),
            None => format!("{}:", url.scheme()),
        },
        Err(_) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_accepts_https_loopback_and_app_schemes() {
        for uri in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/callback",
            "http://localhost/cb",
            "http://[::1]:9000/cb",
            "cursor://anysphere.cursor-retrieval/oauth/callback",
        ] {
            assert_eq!(check_registrable(uri), Ok(()), "{uri}");
        }
        for uri in [
            "http://evil.example/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example/cb#frag",
            "https://user:pw@app.example/cb",
            "/relative/cb",
            "http://127.0.0.1.evil.example/cb",
        ] {
            assert!(check_registrable(uri).is_err(), "{uri}");
        }
    }

    #[test]
    fn matching_is_exact_except_the_loopback_port() {
        let registered = vec!["https://app.example/cb".to_string(), "http://127.0.0.1/callback".to_string()];
        assert!(matches(&registered, "https://app.example/cb"));
        assert!(matches(&registered, "http://127.0.0.1:51234/callback"));
        for altered in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://APP.example/cb2",
            "https://app.example:8443/cb",
            "https://app.example.evil.example/cb",
            "http://app.example/cb",
            "http://127.0.0.1:51234/callback/../evil",
            "http://127.0.0.1:51234/other",
            "http://localhost:51234/callback",
        ] {
            assert!(!matches(&registered, altered), "{altered}");
        }
    }
}
