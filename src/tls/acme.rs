//! Certificates over ACME (RFC 8555) with `instant-acme`: the account (created once, kept in
//! `certs/acme/account.json`), and one order per issuance answered with HTTP-01 by the
//! gateway's `:80` listener through [`Challenges`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, CertificateIdentifier, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use serde::{Deserialize, Serialize};

use crate::settings::AcmeSettings;

/// One ACME request (the server is remote and may be slow, but not this slow).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest ACME response read (a certificate chain is a few KiB).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How long an order may take to validate, and then to be signed.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// HTTP-01 key authorizations by token, answered at `/.well-known/acme-challenge/<token>`.
#[derive(Debug, Default)]
pub struct Challenges {
    tokens: Mutex<HashMap<String, String>>,
}

impl Challenges {
    pub fn answer(&self, token: &str) -> Option<String> {
        self.tokens.lock().ok()?.get(token).cloned()
    }

    fn publish(&self, token: &str, key_authorization: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(token.to_string(), key_authorization.to_string());
        }
    }

    fn withdraw(&self, token: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(token);
        }
    }
}

/// Withdraws the published tokens however the order ends.
struct Published<'a> {
    challenges: &'a Challenges,
    tokens: Vec<String>,
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        for token in &self.tokens {
            self.challenges.withdraw(token);
        }
    }
}

/// A freshly issued certificate.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

/// The account file: credentials and the directory they belong to.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory_url: String,
    credentials: AccountCredentials,
}

pub struct AcmeClient {
    settings: AcmeSettings,
    account_file: PathBuf,
    account: Option<Account>,
    http: reqwest::Client,
}

impl AcmeClient {
    pub fn new(settings: AcmeSettings, certs_dir: PathBuf) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .user_agent(concat!("luna/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &settings.ca_bundle {
            let text = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
            builder = builder.tls_built_in_root_certs(false);
            for der in super::pem::certificates(&text) {
                let certificate =
                    reqwest::Certificate::from_der(&der).map_err(|error| format!("{}: {error}", path.display()))?;
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|error| format!("ACME HTTP client: {error}"))?;
        Ok(Self { settings, account_file: certs_dir.join("acme").join("account.json"), account: None, http })
    }

    pub fn directory_url(&self) -> &str {
        &self.settings.directory_url
    }

    /// The account URL at the CA, once known.
    pub fn account_id(&self) -> Option<String> {
        self.account.as_ref().map(|account| account.id().to_string())
    }

    /// The stored account for this directory, or a new one (saved before it is used).
    async fn account(&mut self) -> Result<Account, String> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let directory = self.settings.directory_url.clone();
        let stored = match std::fs::read(&self.account_file) {
            Ok(bytes) => match serde_json::from_slice::<StoredAccount>(&bytes) {
                Ok(stored) if stored.directory_url == directory => Some(stored.credentials),
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(%error, file = %self.account_file.display(), "unreadable ACME account; creating a new one");
                    None
                }
            },
            Err(_) => None,
        };
        let account = match stored {
            Some(credentials) => {
                let account = Account::builder_with_http(self.client())
                    .from_credentials(credentials)
                    .await
                    .map_err(|error| format!("ACME directory {directory}: {}", describe(&error)))?;
                tracing::info!(account = account.id(), "using the stored ACME account");
                account
            }
            None => self.create_account(&directory).await?,
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    async fn create_account(&self, directory: &str) -> Result<Account, String> {
        let contact: Vec<String> = self.settings.email.iter().map(|email| format!("mailto:{email}")).collect();
        let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new_account = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let (account, credentials) = Account::builder_with_http(self.client())
            .create(&new_account, directory.to_string(), None)
            .await
            .map_err(|error| format!("creating an ACME account at {directory}: {}", describe(&error)))?;
        let stored = StoredAccount { directory_url: directory.to_string(), credentials };
        let bytes = serde_json::to_vec_pretty(&stored).map_err(|error| error.to_string())?;
        let dir = self.account_file.parent().unwrap_or(&self.account_file);
        crate::state_file::create_private_dir(dir)
            .and_then(|()| crate::state_file::write_atomic(&self.account_file, &bytes, 0o600))
            .map_err(|error| format!("saving the ACME account to {}: {error}", self.account_file.display()))?;
        tracing::info!(account = account.id(), "created an ACME account");
        Ok(account)
    }

    /// Orders one certificate for `names` (the site first), answering HTTP-01 through
    /// `challenges`.
    pub async fn issue(&mut self, names: &[String], challenges: &Challenges) -> Result<Issued, String> {
        let account = self.account().await?;
        let listed = names.join(", ");
        let identifiers: Vec<Identifier> = names.iter().map(|name| Identifier::Dns(name.clone())).collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(|error| format!("new order for {listed}: {}", describe(&error)))?;

        let mut published = Published { challenges, tokens: Vec::new() };
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.map_err(|error| format!("authorization: {}", describe(&error)))?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => return Err(format!("the authorization for {listed} is {status:?}")),
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| format!("the ACME server offers no http-01 challenge for {listed}"))?;
            challenges.publish(&challenge.token, challenge.key_authorization().as_str());
            published.tokens.push(challenge.token.clone());
            challenge.set_ready().await.map_err(|error| format!("challenge: {}", describe(&error)))?;
        }

        let polling = RetryPolicy::new().initial_delay(Duration::from_millis(250)).backoff(1.5).timeout(ORDER_TIMEOUT);
        let status = order.poll_ready(&polling).await.map_err(|error| format!("validation: {}", describe(&error)))?;
        if status != OrderStatus::Ready {
            let mut reasons = Vec::new();
            let mut authorizations = order.authorizations();
            while let Some(Ok(authorization)) = authorizations.next().await {
                reasons.extend(authorization.challenges.iter().filter_map(|c| c.error.as_ref().map(|e| e.to_string())));
            }
            return Err(format!("the CA could not validate {listed}: {}", reasons.join("; ")));
        }
        drop(published);

        let key = rcgen::KeyPair::generate().map_err(|error| error.to_string())?;
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|error| error.to_string())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params.serialize_request(&key).map_err(|error| error.to_string())?;
        order.finalize_csr(csr.der()).await.map_err(|error| format!("finalize: {}", describe(&error)))?;
        let chain_pem =
            order.poll_certificate(&polling).await.map_err(|error| format!("certificate: {}", describe(&error)))?;
        Ok(Issued { chain_pem, key_pem: key.serialize_pem() })
    }

    /// When the CA suggests renewing `leaf` (RFC 9773), if it says; a random moment in its window.
    pub async fn suggested_renewal(&self, leaf: &rustls_pki_types::CertificateDer<'_>) -> Option<time::OffsetDateTime> {
        let account = self.account.as_ref()?;
        let id = CertificateIdentifier::try_from(leaf).ok()?;
        let (info, _) = account.renewal_info(&id).await.ok()?;
        let window = info.suggested_window;
        let span = (window.end - window.start).whole_seconds().max(0);
        Some(window.start + time::Duration::seconds(rand::random_range(0..=span)))
    }

    fn client(&self) -> Box<dyn HttpClient> {
        Box::new(AcmeHttp(self.http.clone()))
    }
}

/// An ACME error with the server's own words when it sent a problem document.
fn describe(error: &instant_acme::Error) -> String {
    match error {
        instant_acme::Error::Api(problem) => problem.to_string(),
        other => other.to_string(),
    }
}

/// instant-acme's HTTP through reqwest: explicit timeouts, a response size cap, the optional
/// CA bundle, and the same rustls/ring stack as the rest of Luna.
struct AcmeHttp(reqwest::Client);

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        request: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(never) => match never {},
            };
            let mut response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|error| other(crate::logging::error_chain(&error)))?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut bytes = Vec::new();
            while let Some(chunk) =
                response.chunk().await.map_err(|error| other(crate::logging::error_chain(&error)))?
            {
                if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(other(format!("ACME response larger than {MAX_RESPONSE_BYTES} bytes")));
                }
                bytes.extend_from_slice(&chunk);
            }
            let response = builder.body(Full::new(Bytes::from(bytes)))?;
            Ok(BytesResponse::from(response))
        })
    }
}

fn other(message: String) -> instant_acme::Error {
    instant_acme::Error::Other(message.into())
}
