//! Access tokens for `/api/mcp`: EdDSA JWTs (RFC 9068 profile, `typ: at+jwt`) signed with
//! Luna's Ed25519 key (the one `/.well-known/jwks.json` publishes).
//!
//! Verification is strict: the signature, `typ`, `iss` (the site root), `aud` (exactly
//! `<site>/api/mcp`), `exp` with no leeway beyond a few seconds of clock skew, and the scope.
//! Identity tokens Luna hands to extensions have another `typ` and audience, so one cannot
//! stand in for the other.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::identity::KeyMaterial;
use crate::clock::unix_now;

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The one scope Luna grants: use the MCP endpoint.
pub const MCP_SCOPE: &str = "mcp";
/// Access tokens live this long; clients refresh them silently.
pub const ACCESS_TOKEN_SECONDS: u64 = 3600;
const CLOCK_SKEW_SECONDS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The GitHub user id (`0` for the owner of an open local Luna).
    pub sub: String,
    pub login: String,
    pub client_id: String,
    pub scope: String,
    /// The grant this token belongs to; revoking it ends the token.
    pub gid: String,
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    key_id: String,
    issuer: String,
    audience: String,
}

/// Why a presented token is not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token does not carry the `mcp` scope")]
    InsufficientScope,
}

impl AccessTokens {
    /// `pkcs8` is the Ed25519 key document; `issuer` the site root (`https://luna.example`).
    pub fn new(key: KeyMaterial<'_>) -> Self {
        Self {
            encoding: EncodingKey::from_ed_der(key.pkcs8),
            decoding: DecodingKey::from_ed_der(key.public_key),
            key_id: key.key_id.to_string(),
            issuer: key.issuer.to_string(),
            audience: format!("{}/api/mcp", key.issuer),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `https://<domain>/api/mcp`: the resource and every token's audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn issue(
        &self,
        sub: &str,
        login: &str,
        client_id: &str,
        scope: &str,
        grant_id: &str,
    ) -> Result<(String, u64), String> {
        let now = unix_now();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: sub.to_string(),
            login: login.to_string(),
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            gid: grant_id.to_string(),
            jti: crate::auth::random_token(),
            iat: now,
            exp: now + ACCESS_TOKEN_SECONDS,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_string());
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|error| error.to_string())?;
        Ok((token, ACCESS_TOKEN_SECONDS))
    }

    /// The claims of a valid token for `/api/mcp` with the `mcp` scope.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenProblem> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| TokenProblem::Invalid(error.to_string()))?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) || header.alg != Algorithm::EdDSA {
            return Err(TokenProblem::Invalid("not a Luna access token".into()));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = CLOCK_SKEW_SECONDS;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map_err(|error| TokenProblem::Invalid(error.to_string()))?;
        if !data.claims.scope.split(' ').any(|scope| scope == MCP_SCOPE) {
            return Err(TokenProblem::InsufficientScope);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair;

    fn tokens(issuer: &str) -> AccessTokens {
        let document = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(document.as_ref()).unwrap();
        AccessTokens::new(KeyMaterial {
            pkcs8: document.as_ref(),
            public_key: pair.public_key().as_ref(),
            key_id: "k1",
            issuer,
        })
    }

    #[test]
    fn a_token_verifies_only_for_its_own_audience_and_issuer() {
        let site = tokens("https://luna.example");
        let (token, lifetime) = site.issue("42", "ada", "client-1", "mcp", "grant-1").unwrap();
        assert_eq!(lifetime, 3600);
        let claims = site.verify(&token).unwrap();
        assert_eq!(
            (claims.aud.as_str(), claims.login.as_str(), claims.gid.as_str()),
            ("https://luna.example/api/mcp", "ada", "grant-1")
        );

        // Same key, other site: wrong issuer and audience.
        let other = AccessTokens {
            issuer: "https://other.example".into(),
            audience: "https://other.example/api/mcp".into(),
            ..site
        };
        assert!(matches!(other.verify(&token), Err(TokenProblem::Invalid(_))));
    }

    #[test]
    fn a_token_without_the_mcp_scope_is_insufficient() {
        let site = tokens("https://luna.example");
        let (token, _) = site.issue("42", "ada", "client-1", "profile", "grant-1").unwrap();
        assert_eq!(site.verify(&token), Err(TokenProblem::InsufficientScope));
    }

    #[test]
    fn garbage_and_foreign_tokens_are_invalid() {
        let site = tokens("https://luna.example");
        for token in ["", "gho_16C7e42F292c6912E7710c838347Ae178B4a", "a.b.c"] {
            assert!(matches!(site.verify(token), Err(TokenProblem::Invalid(_))), "{token}");
        }
        let stranger = tokens("https://luna.example");
        let (forged, _) = stranger.issue("42", "ada", "client-1", "mcp", "grant-1").unwrap();
        assert!(matches!(site.verify(&forged), Err(TokenProblem::Invalid(_))), "another key's signature");
    }
}
