//! Inbound header hygiene and the forwarding headers upstreams rely on.
//!
//! Identity reaches an upstream only through headers the gateway sets itself. Anything a
//! client sends that could pass for identity or for forwarding metadata is removed first,
//! in every spelling an upstream framework might fold onto the same name: header names are
//! case-insensitive, and CGI-style servers (WSGI, PHP, Rack) map `-` and `_` to the same
//! variable.

use pingora::http::RequestHeader;

/// Prefixes of header names the gateway alone may set (lower case, `-` for `_`).
const RESERVED_PREFIXES: &[&str] = &[
    // Luna's own identity headers, and every forwarding header (X-Forwarded-For/-Proto/-Host/
    // -Prefix, and oauth2-proxy's X-Forwarded-User/-Email/-Groups/-Preferred-Username/
    // -Access-Token).
    "x-luna-",
    "x-forwarded-",
    // oauth2-proxy (--set-xauthrequest): X-Auth-Request-User/-Email/-Groups/...
    "x-auth-request-",
    // Authelia (and Organizr, and many apps' "auth proxy" modes): Remote-User/-Groups/
    // -Name/-Email; Apache-style X-Remote-User/-Email/-Groups.
    "remote-",
    "x-remote-",
    // Authentik: X-Authentik-Username/-Groups/-Email/-Name/-Uid/-Jwt/-Meta-*.
    "x-authentik-",
    // Pomerium: X-Pomerium-Jwt-Assertion, X-Pomerium-Claim-*.
    "x-pomerium-",
    // Tailscale Serve: Tailscale-User-Login/-Name/-Profile-Pic, Tailscale-Headers-Info.
    "tailscale-",
    // Grafana's auth proxy (X-WEBAUTH-USER and its -Email/-Name/-Role/-Groups siblings).
    "x-webauth-",
    // Cloudflare Access: Cf-Access-Authenticated-User-Email, Cf-Access-Jwt-Assertion.
    "cf-access-",
    // Google IAP: X-Goog-Authenticated-User-Email/-Id, X-Goog-Iap-Jwt-Assertion.
    "x-goog-authenticated-user-",
    "x-goog-iap-",
    // AWS ALB authentication: X-Amzn-Oidc-Identity/-Data/-Accesstoken.
    "x-amzn-oidc-",
    // Azure App Service authentication: X-Ms-Client-Principal, -Name, -Id, -Idp.
    "x-ms-client-principal",
    // Apache mod_auth_openidc: OIDC_CLAIM_*, OIDC_access_token.
    "oidc-claim-",
    // Vouch Proxy: X-Vouch-User, X-Vouch-Idp-Claims-*.
    "x-vouch-",
    // caddy-security: X-Token-User-Email, -Name, -Roles, ...
    "x-token-user-",
    // Azure App Service authentication's tokens: X-Ms-Token-Aad-Id-Token, ...
    "x-ms-token-",
    // Sandstorm: X-Sandstorm-User-Id, -Username, -Permissions.
    "x-sandstorm-",
    // Google App Engine: X-AppEngine-User-Email, -Id, -Nickname.
    "x-appengine-user-",
];

/// Whole header names the gateway alone may set (lower case, `-` for `_`).
const RESERVED_NAMES: &[&str] = &[
    // RFC 7239, and the client-address and path overrides that upstream frameworks trust
    // (nginx's X-Real-IP, Akamai/Cloudflare True-Client-IP, IIS X-Original-URL/X-Rewrite-URL).
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "fly-client-ip",
    "x-envoy-external-address",
    "x-original-url",
    "x-rewrite-url",
    // Kong's identity headers after authentication, and its OIDC plugin's.
    "x-authenticated-userid",
    "x-authenticated-user",
    "x-consumer-id",
    "x-consumer-username",
    "x-consumer-custom-id",
    "x-consumer-groups",
    "x-credential-identifier",
    "x-userinfo",
    "x-id-token",
    // Keycloak Gatekeeper / Louketo: X-Auth-Username, -Userid, -Subject, -Roles, -Groups.
    "x-auth-username",
    "x-auth-userid",
    "x-auth-subject",
    "x-auth-roles",
    "x-auth-groups",
    // Teleport application access.
    "teleport-jwt-assertion",
    // Header-based single sign-on many self-hosted apps accept (Nextcloud, Jellyfin and
    // others' "trusted header" options): X-Auth-User, X-Auth-Email, X-User, X-Email.
    "x-auth-user",
    "x-auth-email",
    "x-user",
    "x-email",
    "x-user-email",
    "x-username",
    // oauth2-proxy's legacy basic-auth header.
    "gap-auth",
    // mod_auth_openidc's access token header.
    "oidc-access-token",
];

/// Luna's headers that clients send and the Agent API reads: they say what the client wants,
/// never who it is.
const CLIENT_NAMES: &[&str] = &["x-luna-memory", "x-luna-events"];

/// True for a header name the gateway alone may set: it could carry identity or forwarding
/// data that an upstream app trusts.
pub fn is_reserved(name: &str) -> bool {
    let is = |reserved: &str| spelled_as(name, reserved);
    let starts = |prefix: &str| name.get(..prefix.len()).is_some_and(|head| spelled_as(head, prefix));
    ((RESERVED_PREFIXES.iter().any(|prefix| starts(prefix))) && !CLIENT_NAMES.iter().any(|client| is(client)))
        || RESERVED_NAMES.iter().any(|reserved| is(reserved))
}

/// `name` is `reserved` (lower case, `-` for `_`) in any case and with `_` for `-`; compared
/// in place, as it runs for every header of every request.
fn spelled_as(name: &str, reserved: &str) -> bool {
    let fold = |byte: u8| if byte == b'_' { b'-' } else { byte.to_ascii_lowercase() };
    name.len() == reserved.len() && name.bytes().zip(reserved.bytes()).all(|(byte, expected)| fold(byte) == expected)
}

/// Headers by which a proxy or tunnel in front says it forwarded a request (RFC 7239
/// `Forwarded`, RFC 9110 `Via`, and the de-facto ones of nginx, Cloudflare, Akamai and
/// Tailscale Serve).
const FORWARDED_BY: &[&str] =
    &["forwarded", "via", "x-forwarded-for", "x-forwarded-host", "x-real-ip", "cf-connecting-ip", "true-client-ip"];

/// True if the request says it came through a proxy or tunnel. Read before
/// [`strip_reserved`], which removes these headers.
pub fn came_through_a_proxy(request: &RequestHeader) -> bool {
    request.headers.keys().any(|name| {
        let normalized = name.as_str().replace('_', "-");
        FORWARDED_BY.contains(&normalized.as_str()) || normalized.starts_with("tailscale-")
    })
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
    fn what_a_client_asks_the_agent_api_for_passes() {
        for name in ["X-Luna-Memory", "x-luna-events"] {
            assert!(!is_reserved(name), "{name}");
        }
        assert!(is_reserved("X-Luna-Memory-User"), "only those names");
    }

    #[test]
    fn every_spelling_of_identity_is_reserved() {
        for name in [
            "X-Luna-User",
            "x-luna-user",
            "X_Luna_User",
            "x_luna-identity",
            "Remote-User",
            "remote_email",
            "X-Remote-User",
            "X-Auth-Request-User",
            "x_auth_request_email",
            "X-Authentik-Username",
            "X-Pomerium-Claim-Email",
            "Tailscale-User-Login",
            "X-WEBAUTH-USER",
            "Cf-Access-Authenticated-User-Email",
            "CF_CONNECTING_IP",
            "X-Goog-Authenticated-User-Email",
            "X-Amzn-Oidc-Identity",
            "X-MS-CLIENT-PRINCIPAL-NAME",
            "OIDC_CLAIM_email",
            "X-Vouch-User",
            "X-Authenticated-Userid",
            "GAP-Auth",
            "X-Auth-Username",
            "X-Userinfo",
            "X-Token-User-Email",
            "Fly-Client-IP",
            "Teleport-Jwt-Assertion",
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
        // Credentials a client sends to the app itself stay.
        for name in ["x-lunar", "luna-user", "accept", "x-request-id", "authorization", "cookie", "x-auth-token"] {
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
