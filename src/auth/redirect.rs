//! The post-login redirect (`rd`): only a local path on this site is accepted; anything
//! else becomes `/`. Browsers are lenient about what counts as "another site" (`//x`,
//! `/\x`, tabs or newlines between the slashes, schemes), so the rule is strict: a single
//! `/`, then no `/` or `\`, and no control characters or whitespace anywhere.

/// `rd` if it is a safe local path (with its query), otherwise `/`.
pub fn safe_redirect(rd: Option<&str>) -> String {
    match rd {
        Some(path) if is_local_path(path) => path.to_string(),
        _ => "/".to_string(),
    }
}

fn is_local_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') || path.len() > 2048 {
        return false;
    }
    if matches!(bytes.get(1), Some(b'/') | Some(b'\\')) {
        return false;
    }
    if path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return false;
    }
    // An encoded slash, backslash or control right after the first `/` reads as `//`
    // to some servers and browsers once decoded.
    let lowered = path.to_ascii_lowercase();
    let decoded_start = lowered.trim_start_matches('/');
    if ["%2f", "%5c", "%09", "%0a", "%0d", "%00", "%20"].iter().any(|escape| decoded_start.starts_with(escape)) {
        return false;
    }
    // A nested login redirect could bounce through the login again with another target; the
    // login hop to an app origin goes only to an origin of this Luna.
    !lowered.starts_with("/auth/") || lowered.starts_with("/auth/app?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_survive() {
        let refused = [
            "//evil.com",
            "/\\evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "https://evil.com",
            "/%2F%2Fevil.com",
            "/%2f/evil.com",
            "/%5Cevil.com",
            "/ /evil.com",
            "/%20/evil.com",
            "javascript:alert(1)",
            "evil.com",
            "",
            "/auth/login?rd=//evil.com",
            "/auth/callback?code=x",
            "\\\\evil.com",
        ];
        for rd in refused {
            assert_eq!(safe_redirect(Some(rd)), "/", "{rd:?}");
        }
        for rd in ["/", "/ext/hello/", "/extensions?tab=tools", "/a/b%2Fc", "/infra#logs"] {
            assert_eq!(safe_redirect(Some(rd)), rd);
        }
        assert_eq!(safe_redirect(None), "/");
    }
}
