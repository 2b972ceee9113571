//! Client ID Metadata Documents: a client whose `client_id` is an HTTPS URL describes itself
//! in the JSON document at that URL (the MCP authorization spec's preferred registration).
//!
//! Fetching a URL a stranger chose is a server-side request forgery risk, so the fetch is
//! fenced: `https` only; the host must resolve to public addresses only (no loopback,
//! private, link-local, shared or reserved ranges), and the connection is pinned to the
//! address that was checked (no second DNS answer); no redirects; 5 s; 64 KiB. Documents
//! are cached for an hour.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde::Deserialize;

use super::redirect_uri;
use super::store::Client;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
const CACHE_FOR: Duration = Duration::from_secs(3600);
const CACHE_CAPACITY: usize = 1000;

/// True if `client_id` is a URL-shaped client id (and so names a metadata document).
pub fn is_metadata_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

#[derive(Default)]
pub struct MetadataDocuments {
    cache: Mutex<HashMap<String, (Client, Instant)>>,
}

#[derive(Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

impl MetadataDocuments {
    /// The client the document at `url` describes, fetched (or from the cache).
    pub async fn client(&self, url: &str) -> Result<Client, String> {
        if let Some((client, at)) = self.lock().get(url)
            && at.elapsed() < CACHE_FOR
        {
            return Ok(client.clone());
        }
        let client = fetch(url).await?;
        let mut cache = self.lock();
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(url.to_string(), (client.clone(), Instant::now()));
        Ok(client)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Client, Instant)>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn fetch(raw: &str) -> Result<Client, String> {
    let url = Url::parse(raw).map_err(|error| format!("the client_id `{raw}` is not a URL: {error}"))?;
    if url.scheme() != "https" {
        return Err("a client_id URL must use https".into());
    }
    if url.path() == "/" || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("a client_id URL needs a path and no fragment or user info".into());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    // No proxy from the environment: it would fetch from wherever it likes, past the address check.
    let mut http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(FETCH_TIMEOUT).no_proxy();
    match url.host().ok_or("a client_id URL needs a host")? {
        url::Host::Ipv4(ip) => check_public(&ip.to_string(), IpAddr::V4(ip))?,
        url::Host::Ipv6(ip) => check_public(&ip.to_string(), IpAddr::V6(ip))?,
        url::Host::Domain(host) => {
            let address = public_address(host, port).await?;
            // Connect to the address that was checked, not to a second DNS answer.
            http = http.resolve(host, address);
        }
    }
    let http = http.build().map_err(|error| error.to_string())?;
    let mut response = http
        .get(url.clone())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|error| format!("fetching the client's metadata document failed: {error}"))?;
    if !response.status().is_success() {
        return Err(format!("the client's metadata document answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| error.to_string())? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("the client's metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let document: Document = serde_json::from_slice(&body)
        .map_err(|error| format!("the client's metadata document is not valid: {error}"))?;
    if document.client_id != raw {
        return Err("the metadata document's client_id differs from its URL".into());
    }
    if document.token_endpoint_auth_method.as_deref().is_some_and(|method| method != "none") {
        return Err("only public clients (token_endpoint_auth_method \"none\") are supported".into());
    }
    if document.redirect_uris.is_empty() {
        return Err("the metadata document lists no redirect_uris".into());
    }
    for uri in &document.redirect_uris {
        redirect_uri::check_registrable(uri)?;
    }
    Ok(Client {
        client_id: document.client_id,
        client_name: super::client_name(document.client_name),
        redirect_uris: document.redirect_uris,
    })
}

fn check_public(host: &str, ip: IpAddr) -> Result<(), String> {
    if is_public(ip) { Ok(()) } else { Err(format!("{host} is not a public address")) }
}

/// The first address of `host`, if every address it resolves to is public.
async fn public_address(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addresses: Vec<SocketAddr> = tokio::time::timeout(FETCH_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("resolving {host} took too long"))?
        .map_err(|error| format!("cannot resolve {host}: {error}"))?
        .collect();
    if let Some(private) = addresses.iter().find(|address| !is_public(address.ip())) {
        return Err(format!("{host} resolves to {}, which is not a public address", private.ip()));
    }
    addresses.first().copied().ok_or_else(|| format!("{host} has no address"))
}

/// A global unicast address: none of IANA's special-purpose blocks (RFC 6890 and its
/// updates) that are not globally reachable, and none that embeds another address a gateway
/// would translate to (6to4, Teredo, NAT64, IPv4-compatible and -mapped forms).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, c, _] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || ip.is_documentation()
                || a == 0 // "this network"
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let segments = ip.segments();
            let [first, second, ..] = segments;
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || segments[..6] == [0; 6] // IPv4-compatible ::/96
                || segments[..5] == [0, 0, 0, 0, 0xffff] // IPv4-translated ::ffff:0:0:0/96
                || (first == 0x0064 && second == 0xff9b) // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
                || (first & 0xff00) == 0x0100 // discard-only and dummy prefixes in 100::/8
                || (first == 0x2001 && second < 0x0200) // IETF assignments 2001::/23 (Teredo 2001::/32)
                || (first == 0x2001 && second == 0x0db8) // documentation
                || first == 0x2002 // 6to4
                || (first & 0xfff0) == 0x3ff0 // documentation 3fff::/20
                || first == 0x5f00 // SRv6 SIDs
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0) // site-local (deprecated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "192.0.0.8",
            "192.88.99.1",
            "198.18.0.1",
            "240.0.0.1",
            "::7f00:1",
            "::ffff:0:a00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "100:0:0:1::1",
            "fec0::1",
            "5f00::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "140.82.112.3", "2606:4700:4700::1111", "2a00:1450:4001::1", "2001:4860::8888"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_document_on_a_private_address_is_never_fetched() {
        let documents = MetadataDocuments::default();
        for url in ["https://127.0.0.1/client.json", "https://localhost/client.json", "https://[::1]/c.json"] {
            let error = documents.client(url).await.unwrap_err();
            assert!(error.contains("not a public address"), "{url}: {error}");
        }
        let error = documents.client("http://app.example/client.json").await.unwrap_err();
        assert_eq!(error, "a client_id URL must use https");
    }
}
