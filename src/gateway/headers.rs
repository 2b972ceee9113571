//! Inbound header hygiene and the forwarding headers upstreams rely on.
//!
//! Identity reaches an upstream only through headers the gateway sets itself. Anything a
//! client sends that could pass for identity or for forwarding metadata is removed first,
//! in every spelling an upstream framework might fold onto the same name: header names are
//! case-insensitive, and CGI-style servers (WSGI, PHP, Rack) map `-` and `_` to the same
//! variable.

use pingora::http::RequestHeader;

/// True for a header name the gateway alone may set.
pub fn is_reserved(name: &str) -> bool {
    let normalized: String = name.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
    normalized.starts_with("x-luna-")
        || normalized.starts_with("x-forwarded-")
        || matches!(
            normalized.as_str(),
            // Client-address and path overrides that upstream frameworks trust.
            "forwarded" | "x-real-ip" | "true-client-ip" | "x-client-ip" | "x-original-url" | "x-rewrite-url"
        )
}

/// Removes every reserved header from an inbound request.
pub fn strip_reserved(request: &mut RequestHeader) {
    let reserved: Vec<String> =
        request.headers.keys().map(|name| name.as_str()).filter(|name| is_reserved(name)).map(str::to_string).collect();
    for name in reserved {
        request.remove_header(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_identity_is_reserved() {
        for name in [
            "X-Luna-User",
            "x-luna-user",
            "X_Luna_User",
            "x_luna-identity",
            "X-LUNA-ANYTHING",
            "x-forwarded-user",
            "X_Forwarded_Email",
            "x-forwarded-groups",
            "X-Forwarded-For",
            "x-forwarded-prefix",
            "Forwarded",
            "X-Real-IP",
            "X_Original_URL",
            "x-rewrite-url",
        ] {
            assert!(is_reserved(name), "{name}");
        }
        for name in ["x-lunar", "luna-user", "accept", "x-request-id", "authorization"] {
            assert!(!is_reserved(name), "{name}");
        }
    }

    #[test]
    fn strip_removes_all_reserved_headers_and_keeps_the_rest() {
        let mut request = RequestHeader::build("GET", b"/", None).unwrap();
        request.insert_header("X-Luna-User", "mallory").unwrap();
        request.append_header("x_luna_user", "mallory").unwrap();
        request.insert_header("X-Forwarded-User", "mallory").unwrap();
        request.insert_header("Accept", "text/html").unwrap();

        strip_reserved(&mut request);

        let names: Vec<_> = request.headers.keys().map(|name| name.as_str().to_string()).collect();
        assert_eq!(names, vec!["accept"]);
    }
}
