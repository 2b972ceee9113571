//! HTTPS settings of the public deployment modes (SPEC §4): the listener, the name the site
//! is reached at, and where its certificate comes from (`[acme]`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{DeploymentMode, Environment, Origin, SettingsError};

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
pub const LETS_ENCRYPT_STAGING_DIRECTORY: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// Longest allowed wait between two failed ACME attempts.
const MAX_RETRY_SECS: u64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsSettings {
    pub listen: SocketAddr,
    /// The host people type: a DNS name, or an IP address in `lan` mode without a domain.
    pub host: String,
    /// Where the certificate comes from.
    pub certificate: CertificateSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// `lan`: a self-signed certificate for `host` (and loopback), persisted in `certs/`.
    SelfSigned,
    /// `nip_io`, `custom_domain`: issued over ACME for `host`; self-signed until then.
    Acme(AcmeSettings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    pub directory_url: String,
    /// A PEM file of the roots that sign the ACME server's own HTTPS certificate (Pebble,
    /// step-ca); `None` trusts the public web roots.
    pub ca_bundle: Option<PathBuf>,
    /// Contact address given to the CA (expiry warnings).
    pub email: Option<String>,
    /// First wait after a failed attempt; doubles (with jitter) up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl HttpsSettings {
    /// `https://host[:port]`: the site's origin.
    pub fn origin(&self) -> String {
        let host = match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => self.host.clone(),
        };
        match self.listen.port() {
            443 => format!("https://{host}"),
            port => format!("https://{host}:{port}"),
        }
    }
}

/// The `[acme]` table of `luna.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AcmeSection {
    pub directory_url: Option<String>,
    pub ca_bundle: Option<PathBuf>,
    pub email: Option<String>,
    pub retry_initial_secs: Option<u64>,
    pub retry_max_secs: Option<u64>,
}

/// The raw values the HTTPS settings are built from.
pub(super) struct HttpsInput<'a> {
    pub mode: DeploymentMode,
    pub file: &'a Origin,
    pub env: &'a dyn Environment,
    /// `server.https_listen` from the file, and the `--https-listen` flag.
    pub listen_file: Option<String>,
    pub listen_flag: Option<String>,
    pub public_domain: Option<String>,
    pub public_ip: Option<String>,
    pub acme: AcmeSection,
}

/// `None` in `local` mode (which refuses an HTTPS listener).
pub(super) fn resolve(input: HttpsInput<'_>) -> Result<Option<HttpsSettings>, SettingsError> {
    let listen = super::layer(
        ("server.https_listen", input.listen_file, input.file),
        ("LUNA_HTTPS_LISTEN", input.env),
        input.listen_flag.map(|value| (value, "--https-listen")),
        "",
    );
    if input.mode == DeploymentMode::Local {
        if !listen.0.is_empty() {
            let reason = "local mode serves plain HTTP on loopback; choose deployment_mode lan, nip_io or \
                          custom_domain to serve HTTPS";
            return Err(SettingsError::new("server.https_listen", listen.1, reason));
        }
        return Ok(None);
    }
    let listen_text = if listen.0.is_empty() { "0.0.0.0:443".to_string() } else { listen.0 };
    let listen_address: SocketAddr = listen_text.parse().map_err(|_| {
        SettingsError::new(
            "server.https_listen",
            listen.1,
            format!("`{listen_text}` is not an address like 0.0.0.0:443"),
        )
    })?;

    let from = |variable, file_value| super::env_or_file(variable, input.env, file_value, input.file);
    let domain = match from("LUNA_PUBLIC_DOMAIN", input.public_domain) {
        Some((value, origin)) => {
            Some(dns_name(&value).map_err(|reason| SettingsError::new("public_domain", origin, reason))?)
        }
        None => None,
    };
    let host = match input.mode {
        DeploymentMode::Local => unreachable!("handled above"),
        DeploymentMode::CustomDomain => domain.ok_or_else(|| {
            SettingsError::new(
                "public_domain",
                Origin::Default,
                "custom_domain mode needs the domain whose DNS points at this machine (LUNA_PUBLIC_DOMAIN)",
            )
        })?,
        DeploymentMode::NipIo => match domain {
            Some(domain) => domain,
            None => {
                let ip = match from("LUNA_PUBLIC_IP", input.public_ip) {
                    Some((value, origin)) => value.parse::<Ipv4Addr>().map_err(|_| {
                        SettingsError::new("public_ip", origin, format!("`{value}` is not an IPv4 address"))
                    })?,
                    None => detect_public_ipv4()
                        .map_err(|reason| SettingsError::new("public_ip", Origin::Default, reason))?,
                };
                nip_io_domain(ip)
            }
        },
        DeploymentMode::Lan => match domain {
            Some(domain) => domain,
            None if !listen_address.ip().is_unspecified() => listen_address.ip().to_string(),
            None => route_source_address()
                .map(|ip| ip.to_string())
                .map_err(|reason| SettingsError::new("public_domain", Origin::Default, reason))?,
        },
    };
    let certificate = match input.mode {
        DeploymentMode::Lan => CertificateSource::SelfSigned,
        _ => CertificateSource::Acme(acme(input.acme, input.file, input.env)?),
    };
    Ok(Some(HttpsSettings { listen: listen_address, host, certificate }))
}

fn acme(section: AcmeSection, file: &Origin, env: &dyn Environment) -> Result<AcmeSettings, SettingsError> {
    let pick = |variable, value| super::env_or_file(variable, env, value, file);
    let directory_url = match pick("LUNA_ACME_DIRECTORY_URL", section.directory_url) {
        None => LETS_ENCRYPT_DIRECTORY.to_string(),
        Some((value, origin)) => {
            let value = match value.as_str() {
                "staging" => LETS_ENCRYPT_STAGING_DIRECTORY.to_string(),
                "production" => LETS_ENCRYPT_DIRECTORY.to_string(),
                _ => value,
            };
            match reqwest::Url::parse(&value) {
                Ok(url) if url.scheme() == "https" => value,
                _ => {
                    let reason = format!("`{value}` is not an https URL (or `staging` / `production`)");
                    return Err(SettingsError::new("acme.directory_url", origin, reason));
                }
            }
        }
    };
    let ca_bundle = match pick("LUNA_ACME_CA_BUNDLE", section.ca_bundle.map(|path| path.display().to_string())) {
        None => None,
        Some((value, origin)) => {
            let path = PathBuf::from(&value);
            let text = std::fs::read(&path)
                .map_err(|error| SettingsError::new("acme.ca_bundle", origin.clone(), format!("{value}: {error}")))?;
            use rustls_pki_types::pem::PemObject;
            if !rustls_pki_types::CertificateDer::pem_slice_iter(&text).any(|certificate| certificate.is_ok()) {
                let reason = format!("{value} holds no PEM certificate");
                return Err(SettingsError::new("acme.ca_bundle", origin, reason));
            }
            Some(path)
        }
    };
    let email = match pick("LUNA_ACME_EMAIL", section.email) {
        None => None,
        Some((value, origin)) => {
            let valid = value.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty() && dns_name(domain).is_ok() && !value.contains(|c: char| c.is_whitespace() || c == ',')
            });
            if !valid {
                return Err(SettingsError::new("acme.email", origin, format!("`{value}` is not an e-mail address")));
            }
            Some(value)
        }
    };
    let seconds = |key: &str, value: Option<u64>, default: u64| match value {
        None => Ok(default),
        Some(secs) if (1..=MAX_RETRY_SECS).contains(&secs) => Ok(secs),
        Some(secs) => {
            Err(SettingsError::new(key, file.clone(), format!("{secs} is out of range 1..={MAX_RETRY_SECS}")))
        }
    };
    let retry_initial = seconds("acme.retry_initial_secs", section.retry_initial_secs, 60)?;
    let retry_max = seconds("acme.retry_max_secs", section.retry_max_secs, 6 * 3600)?;
    if retry_max < retry_initial {
        let reason = format!("{retry_max} is less than acme.retry_initial_secs ({retry_initial})");
        return Err(SettingsError::new("acme.retry_max_secs", file.clone(), reason));
    }
    Ok(AcmeSettings {
        directory_url,
        ca_bundle,
        email,
        retry_initial: Duration::from_secs(retry_initial),
        retry_max: Duration::from_secs(retry_max),
    })
}

/// A host name a certificate can name: lower-case LDH labels, at least two, no wildcard.
pub fn dns_name(text: &str) -> Result<String, String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(|label| label_ok(label)) {
        return Err(format!("`{text}` is not a domain name like luna.example.com"));
    }
    if name.parse::<IpAddr>().is_ok() || labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("`{text}` is an IP address, not a domain name"));
    }
    Ok(name)
}

/// `203.0.113.7` → `203-0-113-7.nip.io`, which nip.io's DNS answers with that address.
pub fn nip_io_domain(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{a}-{b}-{c}-{d}.nip.io")
}

/// The address this machine's traffic to the internet leaves from, if it is a public one.
fn detect_public_ipv4() -> Result<Ipv4Addr, String> {
    let hint = "set public_ip (LUNA_PUBLIC_IP) to the address people reach this machine at";
    match route_source_address() {
        Ok(IpAddr::V4(ip)) if is_public_ipv4(ip) => Ok(ip),
        Ok(ip) => Err(format!(
            "this machine's route to the internet leaves from {ip}, which is not a public IPv4 address \
             (behind NAT or a tunnel?); {hint}"
        )),
        Err(reason) => Err(format!("{reason}; {hint}")),
    }
}

/// The local address of the default route. Connecting a UDP socket sends nothing: the kernel
/// only picks the route, so this works offline as long as a default route exists.
fn route_source_address() -> Result<IpAddr, String> {
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|error| format!("cannot open a UDP socket: {error}"))?;
    socket
        .connect("192.0.2.1:9")
        .map_err(|error| format!("this machine has no default route to find its address by ({error})"))?;
    socket.local_addr().map(|address| address.ip()).map_err(|error| error.to_string())
}

fn is_public_ipv4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b); // RFC 6598 carrier-grade NAT
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_are_checked_and_normalised() {
        assert_eq!(dns_name("Luna.Example.COM.").unwrap(), "luna.example.com");
        for bad in ["localhost", "*.example.com", "a..b", "-a.example.com", "exa mple.com", "10.0.0.1", "a.b/c"] {
            assert!(dns_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn nip_io_names_carry_the_address() {
        assert_eq!(nip_io_domain(Ipv4Addr::new(203, 0, 113, 7)), "203-0-113-7.nip.io");
    }

    #[test]
    fn only_global_addresses_are_public() {
        for private in ["10.1.2.3", "192.168.1.5", "172.16.0.1", "127.0.0.1", "100.64.0.1", "169.254.1.1"] {
            assert!(!is_public_ipv4(private.parse().unwrap()), "{private}");
        }
        assert!(is_public_ipv4("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn origins_omit_the_default_port() {
        let https = |listen: &str, host: &str| HttpsSettings {
            listen: listen.parse().unwrap(),
            host: host.into(),
            certificate: CertificateSource::SelfSigned,
        };
        assert_eq!(https("0.0.0.0:443", "luna.example.com").origin(), "https://luna.example.com");
        assert_eq!(https("0.0.0.0:8443", "10.0.0.2").origin(), "https://10.0.0.2:8443");
        assert_eq!(https("[::]:443", "::1").origin(), "https://[::1]");
    }
}
