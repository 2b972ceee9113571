//! One canonical form per request path.
//!
//! The gateway computes it once, before anything else looks at the path, and uses the
//! same string for the route match, the access decision and the upstream request, so an
//! upstream can never see a path that was judged as another one.
//!
//! Rules (RFC 3986 §6.2.2 plus what a gateway must refuse):
//! - percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded; every
//!   other escape is kept, with upper-case hex, and never decoded twice (`%252e` stays);
//! - encoded `/` and `\`, a raw `\`, and any (encoded) control character including NUL are
//!   refused: upstream frameworks disagree about what they mean;
//! - empty segments (`//`) and `.` are dropped, `..` removes the previous segment, and a
//!   `..` that would climb above `/` is refused;
//! - a trailing slash is kept (`/ext/hello/` and `/ext/hello` are different requests).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    NotAbsolute,
    MalformedEscape,
    EncodedSlash,
    Backslash,
    ControlCharacter,
    EscapesRoot,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "path does not start with /",
            PathError::MalformedEscape => "path has a malformed percent escape",
            PathError::EncodedSlash => "path has an encoded slash",
            PathError::Backslash => "path has a backslash",
            PathError::ControlCharacter => "path has a control character",
            PathError::EscapesRoot => "path climbs above the root",
        })
    }
}

/// Returns the canonical form of `raw` (a path without query string).
pub fn canonicalize(raw: &str) -> Result<String, PathError> {
    // Nearly every request's path is canonical already: one copy, no rewriting.
    if is_canonical(raw) {
        return Ok(raw.to_string());
    }
    rewrite(raw)
}

/// Starts with `/`, has no escape, backslash or control character, no empty segment (but a
/// trailing slash) and no `.` or `..` segment: what [`rewrite`] returns unchanged.
fn is_canonical(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix('/') else { return false };
    let clean = |byte: &u8| !matches!(byte, b'%' | b'\\' | 0x00..=0x1f | 0x7f);
    if !raw.as_bytes().iter().all(clean) {
        return false;
    }
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if (segment.is_empty() && !last) || segment == "." || segment == ".." {
            return false;
        }
    }
    true
}

fn rewrite(raw: &str) -> Result<String, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let decoded = decode_unreserved(raw)?;

    let mut segments: Vec<&str> = Vec::new();
    let mut ends_with_slash = decoded.ends_with('/');
    for segment in decoded.split('/') {
        match segment {
            "" => {}
            "." => ends_with_slash = true,
            ".." => {
                segments.pop().ok_or(PathError::EscapesRoot)?;
                ends_with_slash = true;
            }
            other => {
                segments.push(other);
                ends_with_slash = decoded.ends_with('/');
            }
        }
    }

    let mut canonical = String::with_capacity(decoded.len());
    for segment in &segments {
        canonical.push('/');
        canonical.push_str(segment);
    }
    if segments.is_empty() || ends_with_slash {
        canonical.push('/');
    }
    Ok(canonical)
}

fn decode_unreserved(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let value = bytes
                    .get(index + 1..index + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or(PathError::MalformedEscape)?;
                match value {
                    b'/' => return Err(PathError::EncodedSlash),
                    b'\\' => return Err(PathError::Backslash),
                    0x00..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
                    byte if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) => out.push(byte as char),
                    byte => out.push_str(&format!("%{byte:02X}")),
                }
                index += 3;
            }
            b'\\' => return Err(PathError::Backslash),
            0x00..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            _ => {
                // Copy the run up to the next byte of interest; UTF-8 sequences stay whole.
                let end = bytes[index..]
                    .iter()
                    .position(|byte| matches!(byte, b'%' | b'\\' | 0x00..=0x1f | 0x7f))
                    .map_or(bytes.len(), |offset| index + offset);
                out.push_str(&raw[index..end]);
                index = end;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("/", "/"),
            ("//", "/"),
            ("/api//supervisor///health", "/api/supervisor/health"),
            ("/ext/hello/", "/ext/hello/"),
            ("/ext/hello", "/ext/hello"),
            ("/a/./b", "/a/b"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/ext/hello/../../api/supervisor", "/api/supervisor"),
            ("/%61pi/%7Euser", "/api/~user"),
            ("/a/%2e%2e/b", "/b"),
            ("/a/%2E/b", "/a/b"),
            ("/a/%252e%252e/b", "/a/%252e%252e/b"),
            ("/a%3fb", "/a%3Fb"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/café", "/café"),
            ("/a/...", "/a/..."),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonicalize(raw).as_deref(), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn refused_paths() {
        let cases = [
            ("relative", PathError::NotAbsolute),
            ("/ext/..%2fapi/supervisor", PathError::EncodedSlash),
            ("/ext/..%2Fapi", PathError::EncodedSlash),
            ("/a%5cb", PathError::Backslash),
            ("/a\\b", PathError::Backslash),
            ("/a%00b", PathError::ControlCharacter),
            ("/a%0ab", PathError::ControlCharacter),
            ("/a\tb", PathError::ControlCharacter),
            ("/a%zz", PathError::MalformedEscape),
            ("/a%2", PathError::MalformedEscape),
            ("/..", PathError::EscapesRoot),
            ("/a/../../etc/passwd", PathError::EscapesRoot),
            ("/%2e%2e/etc", PathError::EscapesRoot),
        ];
        for (raw, expected) in cases {
            assert_eq!(canonicalize(raw), Err(expected), "{raw}");
        }
    }

    #[test]
    fn the_shortcut_for_canonical_paths_agrees_with_the_rewrite() {
        let paths = [
            "/",
            "/a",
            "/a/",
            "/a/b",
            "/ext/hello/app.js",
            "/a//b",
            "//",
            "/a/.",
            "/a/..",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/.hidden",
            "/a/...",
            "/..a",
            "/a%20b",
            "/a\\b",
            "/a\tb",
            "/café",
            "a",
            "",
            "/a/b/",
        ];
        for raw in paths.into_iter().filter(|raw| is_canonical(raw)) {
            assert_eq!(rewrite(raw).as_deref(), Ok(raw), "{raw:?} is not canonical");
        }
        assert!(is_canonical("/ext/hello/app.js") && is_canonical("/") && is_canonical("/a/"));
    }

    #[test]
    fn canonical_paths_are_fixed_points() {
        for raw in ["/a//b/../c/", "/%7e/x", "/a/%252e", "/x/./y/.."] {
            let once = canonicalize(raw).unwrap();
            assert_eq!(canonicalize(&once).unwrap(), once, "{raw}");
        }
    }
}
