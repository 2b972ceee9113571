//! Checks that ask the network: the domain's DNS, GitHub's view of the OAuth app, the clock.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use super::{Check, Doctor};
use crate::auth::github::{Github, GithubError};
use crate::settings::DeploymentMode;

/// Each network check gives up after this.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);
/// Beyond this, tokens and certificates start looking expired or not yet valid to others.
const CLOCK_FAIL_SECONDS: u64 = 300;
const CLOCK_WARN_SECONDS: u64 = 30;

/// `nip_io` and `custom_domain`: the name resolves to this machine, or ACME cannot reach it.
pub async fn dns(doctor: &Doctor) -> Option<Check> {
    const ID: &str = "dns";
    if !matches!(doctor.mode, DeploymentMode::NipIo | DeploymentMode::CustomDomain) {
        return None;
    }
    let host = doctor.host.as_deref()?;
    let resolved = match tokio::time::timeout(NETWORK_TIMEOUT, tokio::net::lookup_host((host, 443))).await {
        Ok(Ok(addresses)) => addresses.map(|address| address.ip()).collect::<Vec<_>>(),
        Ok(Err(error)) => {
            return Some(Check::fail(ID, format!("{host} does not resolve: {error}"), dns_advice(doctor.mode, host)));
        }
        Err(_) => {
            return Some(Check::fail(
                ID,
                format!("resolving {host} timed out"),
                "check this machine's DNS resolver (/etc/resolv.conf)",
            ));
        }
    };
    let mut ours = crate::sys::interface_addresses();
    // nip.io answers with the address in the name, which behind NAT is on no interface here.
    ours.extend(nip_io_address(host));
    Some(judge_dns(host, &resolved, &ours, doctor.mode))
}

fn judge_dns(host: &str, resolved: &[IpAddr], ours: &[IpAddr], mode: DeploymentMode) -> Check {
    const ID: &str = "dns";
    let list = |addresses: &[IpAddr]| addresses.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
    if resolved.iter().any(|address| ours.contains(address)) {
        return Check::ok(ID, format!("{host} resolves to {}, an address of this machine", list(resolved)));
    }
    let public: Vec<IpAddr> = ours.iter().copied().filter(|address| is_global(*address)).collect();
    if public.is_empty() {
        // Behind NAT the public address is on the router, not here: it may still be right.
        Check::warn(
            ID,
            format!("{host} resolves to {}; this machine has no public address of its own to compare", list(resolved)),
            format!("make sure {} forwards ports 80 and 443 to this machine", list(resolved)),
        )
    } else {
        Check::fail(
            ID,
            format!("{host} resolves to {}, not to this machine ({})", list(resolved), list(&public)),
            dns_advice(mode, host),
        )
    }
}

fn dns_advice(mode: DeploymentMode, host: &str) -> String {
    match mode {
        DeploymentMode::NipIo => "nip.io must be reachable from this machine's resolver; or use custom_domain".into(),
        _ => format!("create an A (or AAAA) record for {host} pointing at this machine's public address"),
    }
}

/// `203-0-113-7.nip.io` → 203.0.113.7.
fn nip_io_address(host: &str) -> Option<IpAddr> {
    host.strip_suffix(".nip.io")?.rsplit('.').next()?.replace('-', ".").parse().ok()
}

fn is_global(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(ip) => !(ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()),
        IpAddr::V6(ip) => {
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The OAuth app's id, secret and callback URL, as GitHub sees them.
pub async fn github(doctor: &Doctor) -> Check {
    const ID: &str = "github";
    let callback = format!("{}/auth/callback", doctor.public_url);
    let Some(app) = &doctor.github else {
        return match doctor.mode {
            DeploymentMode::Local => Check::warn(
                ID,
                "no GitHub OAuth app: Luna answers only this machine, without a login",
                format!(
                    "to log in with GitHub, create an OAuth app with the callback URL {callback} and put its GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET in .env"
                ),
            ),
            _ => Check::fail(
                ID,
                "no GitHub OAuth app: nobody can log in",
                format!(
                    "create an OAuth app with the callback URL {callback} and put its GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET in .env"
                ),
            ),
        };
    };
    let github = match Github::new(app, &callback) {
        Ok(github) => github,
        Err(reason) => {
            return Check::fail(
                ID,
                format!("the GitHub settings are unusable: {reason}"),
                "check auth.github in luna.toml",
            );
        }
    };
    match tokio::time::timeout(NETWORK_TIMEOUT, github.check_app()).await {
        Ok(Ok(())) => {
            Check::ok(ID, format!("GitHub accepts the OAuth app {} with the callback URL {callback}", app.client_id))
        }
        Ok(Err(GithubError::Refused(reason))) if reason.starts_with("incorrect_client_credentials") => Check::fail(
            ID,
            format!("GitHub does not accept the client id {} with this secret", app.client_id),
            "copy the Client ID and a new client secret from the OAuth app (github.com/settings/developers) into .env as GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, then restart Luna",
        ),
        Ok(Err(GithubError::Refused(reason))) if reason.starts_with("redirect_uri_mismatch") => Check::fail(
            ID,
            format!("the OAuth app's callback URL is not {callback}"),
            format!(
                "set the OAuth app's \"Authorization callback URL\" to {callback} (github.com/settings/developers)"
            ),
        ),
        Ok(Err(GithubError::Unreachable(reason))) => Check::warn(
            ID,
            format!("cannot reach GitHub at {}: {reason}", app.token_url),
            "check this machine's outgoing HTTPS",
        ),
        Ok(Err(error)) => Check::warn(
            ID,
            format!("GitHub's answer was unexpected: {error}"),
            "try a login; if it fails, check the OAuth app's settings",
        ),
        Err(_) => Check::warn(
            ID,
            format!("GitHub ({}) did not answer in {NETWORK_TIMEOUT:?}", app.token_url),
            "check this machine's outgoing HTTPS",
        ),
    }
}

/// The clock against the `Date` of a server Luna talks to anyway (the ACME CA, else GitHub).
pub async fn clock(doctor: &Doctor) -> Option<Check> {
    const ID: &str = "clock";
    let url = match (&doctor.acme_directory, &doctor.github) {
        (Some(directory), _) => directory.clone(),
        (None, Some(app)) => app.api_url.clone(),
        (None, None) => return None,
    };
    let http =
        reqwest::Client::builder().timeout(NETWORK_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build().ok()?;
    let sent = SystemTime::now();
    let answer = match http.head(&url).send().await {
        Ok(answer) => answer,
        Err(error) => {
            let reason = crate::logging::error_chain(&error.without_url());
            return Some(Check::warn(
                ID,
                format!("cannot compare the clock with {url}: {reason}"),
                "check this machine's outgoing HTTPS",
            ));
        }
    };
    let Some(date) = answer
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|date| date.to_str().ok())
        .and_then(|date| httpdate::parse_http_date(date).ok())
    else {
        return Some(Check::warn(
            ID,
            format!("{url} sent no Date to compare the clock with"),
            "check the clock with `timedatectl`",
        ));
    };
    Some(judge_clock(sent, date, &url))
}

fn judge_clock(now: SystemTime, theirs: SystemTime, url: &str) -> Check {
    const ID: &str = "clock";
    let (skew, ahead) = match now.duration_since(theirs) {
        Ok(ahead) => (ahead.as_secs(), true),
        Err(behind) => (behind.duration().as_secs(), false),
    };
    // The Date header has whole seconds, and the answer took time.
    let summary = format!("{skew} s {} {url}", if ahead { "ahead of" } else { "behind" });
    let advice = "turn on time synchronisation: `sudo timedatectl set-ntp true`";
    if skew > CLOCK_FAIL_SECONDS {
        Check::fail(ID, summary, advice)
    } else if skew > CLOCK_WARN_SECONDS {
        Check::warn(ID, summary, advice)
    } else {
        Check::ok(ID, format!("in step with {url} (within {CLOCK_WARN_SECONDS} s)"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::CheckStatus;
    use super::*;

    #[test]
    fn a_name_pointing_elsewhere_fails_and_one_behind_nat_only_warns() {
        let here: IpAddr = "198.51.100.4".parse().unwrap();
        let there: IpAddr = "192.0.2.9".parse().unwrap();
        let lan: IpAddr = "10.0.0.5".parse().unwrap();
        let mode = DeploymentMode::CustomDomain;
        assert_eq!(judge_dns("luna.example.com", &[here], &[here], mode).status, CheckStatus::Ok);
        let wrong = judge_dns("luna.example.com", &[there], &[here, lan], mode);
        assert_eq!(wrong.status, CheckStatus::Fail);
        assert!(wrong.summary.contains("not to this machine (198.51.100.4)"), "{}", wrong.summary);
        assert_eq!(judge_dns("luna.example.com", &[there], &[lan], mode).status, CheckStatus::Warn);
        assert_eq!(nip_io_address("203-0-113-7.nip.io"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(nip_io_address("app.203-0-113-7.nip.io"), Some("203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn the_clock_is_judged_by_its_distance_either_way() {
        let date = SystemTime::UNIX_EPOCH + Duration::from_secs(784111777);
        assert_eq!(judge_clock(date + Duration::from_secs(3), date, "x").status, CheckStatus::Ok);
        assert_eq!(judge_clock(date - Duration::from_secs(60), date, "x").status, CheckStatus::Warn);
        let far = judge_clock(date + Duration::from_secs(600), date, "https://ca");
        assert_eq!((far.status, far.summary.as_str()), (CheckStatus::Fail, "600 s ahead of https://ca"));
    }
}
