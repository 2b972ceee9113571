//! Where third-party web UIs are served (SPEC §5): each on an origin of its own, either a
//! name below the site's host (`<app>.<host>`) or, where the host is a bare IP address with
//! no names below it, a port of its own (`server.app_origins`, `server.app_ports`).

use std::ops::RangeInclusive;

use super::{Environment, Origin, SettingsError, SupervisorSettings};

/// Ports for apps unless `server.app_ports` says otherwise: 32 apps.
const DEFAULT_APP_PORTS: RangeInclusive<u16> = 9400..=9431;
/// The gateway listens on every port of the range; more than this is a typo.
const MAX_APP_PORTS: usize = 1000;

pub(super) struct AppOriginsInput<'a> {
    pub file: &'a Origin,
    pub env: &'a dyn Environment,
    pub app_origins: Option<String>,
    pub app_ports: Option<[u16; 2]>,
    /// `public_url`'s host.
    pub host: url::Host<&'a str>,
    /// The gateway's own ports (plain HTTP, HTTPS).
    pub listen_ports: Vec<u16>,
    pub supervisor: &'a SupervisorSettings,
}

/// The ports apps are served on, or `None` where they get names below the site's host.
pub(super) fn resolve(input: AppOriginsInput<'_>) -> Result<Option<RangeInclusive<u16>>, SettingsError> {
    let bare_address = match input.host {
        url::Host::Domain(_) => false,
        // Browsers send every `*.localhost` name to loopback.
        url::Host::Ipv4(ip) => !ip.is_loopback(),
        url::Host::Ipv6(ip) => !ip.is_loopback(),
    };
    let (kind, kind_origin) = match super::env_or_file("LUNA_APP_ORIGINS", input.env, input.app_origins, input.file) {
        Some(chosen) => chosen,
        None => ((if bare_address { "ports" } else { "names" }).to_string(), Origin::Default),
    };
    match kind.as_str() {
        "names" if bare_address => {
            let reason = "the site is a bare IP address, which has no names below it: use \"ports\" (or give \
                          public_domain a name)";
            return Err(SettingsError::new("server.app_origins", kind_origin, reason));
        }
        "names" => return Ok(None),
        "ports" => {}
        other => {
            let reason = format!("unknown kind `{other}`; expected names or ports");
            return Err(SettingsError::new("server.app_origins", kind_origin, reason));
        }
    }
    let ports = match input.app_ports {
        None => DEFAULT_APP_PORTS,
        Some([first, last]) if first > 0 && first <= last => first..=last,
        Some(_) => {
            let reason = "must be [first, last] with 0 < first <= last";
            return Err(SettingsError::new("server.app_ports", input.file.clone(), reason));
        }
    };
    let origin = if input.app_ports.is_some() { input.file.clone() } else { Origin::Default };
    if ports.len() > MAX_APP_PORTS {
        let reason = format!("{} ports is more than the {MAX_APP_PORTS} the gateway listens on at most", ports.len());
        return Err(SettingsError::new("server.app_ports", origin, reason));
    }
    if let Some(port) = input.listen_ports.iter().find(|port| ports.contains(port)) {
        let reason = format!("holds port {port}, which the gateway's own listener uses");
        return Err(SettingsError::new("server.app_ports", origin, reason));
    }
    let (ui, services) = (&input.supervisor.ui_ports, &input.supervisor.service_ports);
    for (name, range) in [("supervisor.ui_ports", ui), ("supervisor.service_ports", services)] {
        if range.start() <= ports.end() && ports.start() <= range.end() {
            return Err(SettingsError::new("server.app_ports", origin, format!("overlaps {name}")));
        }
    }
    Ok(Some(ports))
}
