//! Port assignment: UIs from 5200–5299, services from 5300–5399 (both ranges are settings),
//! assigned once and kept in
//! `master_config.port_assignments` so an extension keeps its port across restarts.
//!
//! A new assignment skips ports that are assigned already or held by another process right
//! now. An existing assignment is never moved: if a foreign process holds it, the start
//! fails and says who holds it, rather than fighting over the port.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use crate::master_config::PortAssignments;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no free port left in {first}–{last} for {key}")]
pub struct RangeExhausted {
    pub key: String,
    pub first: u16,
    pub last: u16,
}

/// The UI port of `extension`, assigning one if it has none.
pub fn ui_port(
    assignments: &mut PortAssignments,
    range: RangeInclusive<u16>,
    extension: &str,
    is_free: impl Fn(u16) -> bool,
) -> Result<u16, RangeExhausted> {
    if let Some(port) = assignments.extensions.get(extension) {
        return Ok(*port);
    }
    let port = next_free(assignments, range, extension, is_free)?;
    assignments.extensions.insert(extension.to_string(), port);
    Ok(port)
}

/// The port of service `key` (`<extension>.<service>`): assigned if it needs one,
/// recorded as `null` if it does not.
pub fn service_port(
    assignments: &mut PortAssignments,
    range: RangeInclusive<u16>,
    key: &str,
    requires_port: bool,
    is_free: impl Fn(u16) -> bool,
) -> Result<Option<u16>, RangeExhausted> {
    if !requires_port {
        assignments.services.insert(key.to_string(), None);
        return Ok(None);
    }
    if let Some(Some(port)) = assignments.services.get(key) {
        return Ok(Some(*port));
    }
    let port = next_free(assignments, range, key, is_free)?;
    assignments.services.insert(key.to_string(), Some(port));
    Ok(Some(port))
}

fn next_free(
    assignments: &PortAssignments,
    range: RangeInclusive<u16>,
    key: &str,
    is_free: impl Fn(u16) -> bool,
) -> Result<u16, RangeExhausted> {
    let taken: BTreeSet<u16> =
        assignments.extensions.values().copied().chain(assignments.services.values().flatten().copied()).collect();
    range.clone().find(|port| !taken.contains(port) && is_free(*port)).ok_or_else(|| RangeExhausted {
        key: key.to_string(),
        first: *range.start(),
        last: *range.end(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UI: RangeInclusive<u16> = 5200..=5299;
    const SERVICES: RangeInclusive<u16> = 5300..=5399;

    #[test]
    fn assigns_once_and_reuses() {
        let mut assignments = PortAssignments::default();
        assert_eq!(ui_port(&mut assignments, UI, "a", |_| true), Ok(5200));
        assert_eq!(ui_port(&mut assignments, UI, "b", |_| true), Ok(5201));
        assert_eq!(ui_port(&mut assignments, UI, "a", |_| false), Ok(5200), "kept even if busy now");
        assert_eq!(service_port(&mut assignments, SERVICES, "a.api", true, |_| true), Ok(Some(5300)));
        assert_eq!(service_port(&mut assignments, SERVICES, "a.worker", false, |_| true), Ok(None));
        assert_eq!(assignments.services["a.worker"], None);
    }

    #[test]
    fn skips_busy_ports_for_new_assignments() {
        let mut assignments = PortAssignments::default();
        assert_eq!(ui_port(&mut assignments, UI, "a", |port| port != 5200), Ok(5201));
    }

    #[test]
    fn exhaustion_is_an_error_naming_the_range() {
        let mut assignments = PortAssignments::default();
        for index in 0..100 {
            ui_port(&mut assignments, UI, &format!("ext{index}"), |_| true).unwrap();
        }
        let error = ui_port(&mut assignments, UI, "one-too-many", |_| true).unwrap_err();
        assert_eq!(error.to_string(), "no free port left in 5200–5299 for one-too-many");
    }
}
