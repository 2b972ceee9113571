//! App origins by port (`server.app_origins = "ports"`, the default where the site is a bare
//! IP address, which has no names below it): each app gets a port of the gateway from
//! `server.app_ports`, its origin is `scheme://<site host>:<port>`. An origin is scheme, host
//! and port, so a page there is not same-origin with the Hub; cookies, though, ignore ports
//! (the README says what that leaves shared).
//!
//! A port is given to an app the first time the gateway sends someone to it, and kept in
//! `state/app_ports.json` so links and bookmarks stay valid across restarts. Ports of apps
//! that are gone are handed out again only once the range has no never-used port left.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

type Assignments = BTreeMap<String, u16>;

#[derive(Debug)]
pub struct AppPorts {
    range: RangeInclusive<u16>,
    file: PathBuf,
    /// Read per request, without a lock.
    current: ArcSwap<Assignments>,
    /// Held while a new port is chosen and written.
    assigning: Mutex<()>,
}

impl AppPorts {
    /// The assignments kept in `file` (none yet if it does not exist).
    pub fn load(file: PathBuf, range: RangeInclusive<u16>) -> Result<Arc<Self>, String> {
        let assignments: Assignments = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|error| format!("{}: not a map of app names to ports: {error}", file.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Assignments::new(),
            Err(error) => return Err(format!("{}: {error}", file.display())),
        };
        Ok(Arc::new(Self { range, file, current: ArcSwap::from_pointee(assignments), assigning: Mutex::new(()) }))
    }

    /// The ports the gateway listens on for apps.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.range.clone()
    }

    /// App `name`'s port, if it has one.
    pub fn port_of(&self, name: &str) -> Option<u16> {
        self.current.load().get(name).copied().filter(|port| self.range.contains(port))
    }

    /// The app that port `port` serves.
    pub fn app_at(&self, port: u16) -> Option<String> {
        let current = self.current.load();
        current.iter().find(|(_, assigned)| **assigned == port).map(|(name, _)| name.clone())
    }

    /// App `name`'s port, given one now if it has none; `None` when the range is full of
    /// apps that run (`running` names them) or the assignment cannot be saved.
    pub fn assign(&self, name: &str, running: &dyn Fn(&str) -> bool) -> Option<u16> {
        if let Some(port) = self.port_of(name) {
            return Some(port);
        }
        let _guard = self.assigning.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut assignments = Assignments::clone(&self.current.load());
        if let Some(port) = assignments.get(name).copied().filter(|port| self.range.contains(port)) {
            return Some(port);
        }
        let taken = |port: &u16| assignments.values().any(|assigned| assigned == port);
        let port = match self.range.clone().find(|port| !taken(port)) {
            Some(port) => port,
            None => {
                // Reclaim the port of an app that is gone.
                let (gone, port) = assignments.iter().find(|(app, _)| !running(app)).map(|(a, p)| (a.clone(), *p))?;
                assignments.remove(&gone);
                port
            }
        };
        assignments.insert(name.to_string(), port);
        if let Err(error) = crate::state_file::write_json_atomic(&self.file, &assignments) {
            tracing::error!(file = %self.file.display(), %error, "cannot save the app's port");
            return None;
        }
        self.current.store(Arc::new(assignments));
        Some(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_kept_across_restarts_and_reclaimed_only_when_the_range_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app_ports.json");
        let ports = AppPorts::load(file.clone(), 9400..=9401).unwrap();
        let running = |_: &str| true;
        assert_eq!(ports.assign("grocy", &running), Some(9400));
        assert_eq!(ports.assign("kuma", &running), Some(9401));
        assert_eq!(ports.assign("grocy", &running), Some(9400), "kept");
        assert_eq!(ports.assign("third", &running), None, "full of running apps");
        assert_eq!(ports.app_at(9401).as_deref(), Some("kuma"));

        let again = AppPorts::load(file.clone(), 9400..=9401).unwrap();
        assert_eq!(again.port_of("kuma"), Some(9401), "after a restart");
        assert_eq!(again.assign("third", &|app| app != "grocy"), Some(9400), "grocy's port, grocy being gone");
        assert_eq!(again.port_of("grocy"), None);

        std::fs::write(&file, "[1, 2]").unwrap();
        let error = AppPorts::load(file, 9400..=9401).unwrap_err();
        assert!(error.contains("app_ports.json"), "{error}");
    }
}
