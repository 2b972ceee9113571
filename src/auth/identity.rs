//! `X-Luna-Identity`: a short-lived JWT (EdDSA) the gateway attaches to requests it
//! forwards for a logged-in user, so an upstream can check who is calling without trusting
//! a bare header. The public key is served at `/.well-known/jwks.json`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::KeyPair;
use serde::{Deserialize, Serialize};

use super::sessions::SessionUser;
use crate::allow_list::Role;
use crate::clock::unix_now;
use crate::state_file::write_atomic;

/// Lifetime of one identity token: long enough for one request, short enough to be useless
/// if an upstream leaks it.
const TOKEN_SECONDS: u64 = 60;
/// A cached token is handed out while it has at least this long to live, so each user costs
/// one signature per half minute instead of one per request.
const REUSE_WHILE_SECONDS_LEFT: u64 = 30;
/// Users whose tokens are cached at most; beyond this the cache starts over.
const CACHE_CAPACITY: usize = 1024;
/// The `aud` of identity tokens to upstreams on the Hub's origin; an app origin's tokens are
/// addressed to that origin. Upstreams should check it.
pub const IDENTITY_AUDIENCE: &str = "luna-upstream";

/// An Ed25519 signing key as its users need it.
pub struct KeyMaterial<'a> {
    /// The PKCS#8 document.
    pub pkcs8: &'a [u8],
    pub public_key: &'a [u8],
    /// The `kid` of the JWKS entry.
    pub key_id: &'a str,
    /// The `iss` of every token.
    pub issuer: &'a str,
}

pub struct IdentitySigner {
    encoding: EncodingKey,
    /// The key document, for the access tokens of Luna's authorization server.
    pkcs8: Vec<u8>,
    public_key: Vec<u8>,
    key_id: String,
    issuer: String,
    /// GitHub id → audience → (login, role, token, expiry). A std `Mutex`: held for a
    /// lookup, never across an `.await` or a signature.
    cache: Mutex<HashMap<i64, HashMap<String, CachedToken>>>,
}

/// A signed token and what it was signed for: (login, role, token, expiry).
/// (login, role, the token as the header value it is sent as, expiry).
type CachedToken = (String, Role, http::HeaderValue, u64);

#[derive(Debug, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub iss: String,
    pub aud: String,
    /// GitHub's numeric user id.
    pub sub: String,
    pub login: String,
    /// `admin` or `member`: what the user may do in Luna.
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
}

impl IdentitySigner {
    /// Reads the Ed25519 key (PKCS#8) from `path`, creating it (mode 0600) the first time.
    pub fn load_or_create(path: &Path, issuer: &str) -> std::io::Result<Self> {
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let document = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                    .map_err(|_| std::io::Error::other("cannot generate an Ed25519 key"))?;
                write_atomic(path, document.as_ref(), 0o600)?;
                document.as_ref().to_vec()
            }
            Err(error) => return Err(error),
        };
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| std::io::Error::other(format!("{} is not an Ed25519 PKCS#8 key", path.display())))?;
        let public_key = pair.public_key().as_ref().to_vec();
        let digest = ring::digest::digest(&ring::digest::SHA256, &public_key);
        let key_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        Ok(Self {
            encoding: EncodingKey::from_ed_der(&pkcs8),
            pkcs8: pkcs8.clone(),
            public_key,
            key_id,
            issuer: issuer.to_string(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A token for `user` in `role` addressed to `audience` (an app origin, or
    /// [`IDENTITY_AUDIENCE`]), as its `X-Luna-Identity` value: a cached one while it has at
    /// least 30 s left (a clone shares its bytes), else a new one.
    pub fn token_for(
        &self,
        user: &SessionUser,
        role: Role,
        audience: &str,
    ) -> Result<http::HeaderValue, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let cache = || self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Looked up by `&str`: a hit, every request of a logged-in user, allocates nothing.
        if let Some((login, cached_role, token, expires)) =
            cache().get(&user.id).and_then(|tokens| tokens.get(audience))
            && *login == user.login
            && *cached_role == role
            && *expires >= now + REUSE_WHILE_SECONDS_LEFT
        {
            return Ok(token.clone());
        }
        // A JWT is base64url and dots: always a header value.
        let token = http::HeaderValue::try_from(self.sign(user, role, audience)?).expect("a JWT is a header value");
        let mut cache = cache();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        let entry = (user.login.clone(), role, token.clone(), now + TOKEN_SECONDS);
        cache.entry(user.id).or_default().insert(audience.to_string(), entry);
        Ok(token)
    }

    pub fn sign(&self, user: &SessionUser, role: Role, audience: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let claims = IdentityClaims {
            iss: self.issuer.clone(),
            aud: audience.to_string(),
            sub: user.id.to_string(),
            login: user.login.clone(),
            role,
            iat: now,
            exp: now + TOKEN_SECONDS,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// What another token signer (MCP access tokens) shares with this one, so one JWKS
    /// verifies both.
    pub fn key_material(&self) -> KeyMaterial<'_> {
        KeyMaterial { pkcs8: &self.pkcs8, public_key: &self.public_key, key_id: &self.key_id, issuer: &self.issuer }
    }

    /// The JSON Web Key Set upstreams verify identity tokens with.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.key_id,
                "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.public_key),
            }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn tokens_verify_against_the_published_key() {
        let dir = tempfile::tempdir().unwrap();
        let signer = IdentitySigner::load_or_create(&dir.path().join("identity.key"), "http://127.0.0.1:8800").unwrap();
        let user = SessionUser { id: 42, login: "ada".into(), name: None, avatar_url: None, orgs: vec![] };

        let token = signer.sign(&user, Role::Admin, IDENTITY_AUDIENCE).unwrap();

        let jwks = signer.jwks();
        let key = DecodingKey::from_ed_components(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[IDENTITY_AUDIENCE]);
        validation.set_issuer(&["http://127.0.0.1:8800"]);
        let claims = jsonwebtoken::decode::<IdentityClaims>(&token, &key, &validation).unwrap().claims;
        assert_eq!((claims.sub.as_str(), claims.login.as_str(), claims.role), ("42", "ada", Role::Admin));
        assert_eq!(claims.exp - claims.iat, TOKEN_SECONDS);

        let token_for = |user: &SessionUser, role| {
            signer.token_for(user, role, IDENTITY_AUDIENCE).unwrap().to_str().unwrap().to_string()
        };
        assert_eq!(token_for(&user, Role::Admin), token_for(&user, Role::Admin), "reused while fresh");
        let renamed = SessionUser { login: "ada2".into(), ..user.clone() };
        let claims = jsonwebtoken::decode::<IdentityClaims>(&token_for(&renamed, Role::Admin), &key, &validation);
        assert_eq!(claims.unwrap().claims.login, "ada2", "a changed login gets a new token");
        let claims = jsonwebtoken::decode::<IdentityClaims>(&token_for(&renamed, Role::Member), &key, &validation);
        assert_eq!(claims.unwrap().claims.role, Role::Member, "a changed role gets a new token");

        let again = IdentitySigner::load_or_create(&dir.path().join("identity.key"), "x").unwrap();
        assert_eq!(again.jwks()["keys"][0]["x"], jwks["keys"][0]["x"], "the key persists");
    }
}
