//! Carrying the GitHub login from the Hub's origin to an app's origin (`<app>.<site host>`)
//! without asking again, as an authorization-code hop:
//!
//! ```text
//! app origin, no app session ─► state cookie (host-only) ─► 302 Hub /auth/app?app&state&rd
//! Hub: the Hub session (or a login first) ─► one-time code bound to (session, app, state)
//!      ─► 302 <app origin>/__luna/callback?code&rd
//! app origin: code + the state cookie redeemed in the gateway ─► app session cookie ─► rd
//! ```
//!
//! A code lives a minute, is used once (a failed redemption burns it too), works only on the
//! app it was issued for and only in the browser that started the hop (its state cookie).
//! The app session is the Hub session seen from the app's origin: logging out or revoking
//! the Hub session ends it, and the allow-list is applied to it on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sessions::hash_id;

/// How long an issued code may wait for its redemption.
const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// Codes waiting at most; a flood beyond this starts the table over.
const MAX_PENDING_CODES: usize = 10_000;
/// The path on every app origin that redeems a code; the app never sees it.
pub const CALLBACK_PATH: &str = "/__luna/callback";

struct Pending {
    app: String,
    session_id: String,
    state_hash: String,
    issued: Instant,
}

/// The codes issued and not yet redeemed, by their hash.
#[derive(Default)]
pub struct AppCodes {
    pending: Mutex<HashMap<String, Pending>>,
}

impl AppCodes {
    /// A new code for `app`, resting on Hub session `session_id`, for the browser holding
    /// `state`.
    pub fn issue(&self, app: &str, session_id: &str, state: &str) -> String {
        let code = super::random_token();
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.retain(|_, waiting| waiting.issued.elapsed() < CODE_LIFETIME);
        if pending.len() >= MAX_PENDING_CODES {
            pending.clear();
        }
        let waiting = Pending {
            app: app.to_string(),
            session_id: session_id.to_string(),
            state_hash: hash_id(state),
            issued: Instant::now(),
        };
        pending.insert(hash_id(&code), waiting);
        code
    }

    /// The Hub session a code rests on, if it was issued for `app` and `state` and is fresh.
    /// The code is gone afterwards either way.
    pub fn redeem(&self, code: &str, app: &str, state: &str) -> Option<String> {
        let waiting = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&hash_id(code))?;
        let valid = waiting.issued.elapsed() < CODE_LIFETIME
            && waiting.app == app
            && crate::auth::constant_time_eq(&waiting.state_hash, &hash_id(state));
        valid.then_some(waiting.session_id)
    }
}

/// An app name as an origin's first label carries it: letters, digits, `-`, `_`.
pub fn is_app_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_redeemed_once_for_its_app_and_state_only() {
        let codes = AppCodes::default();
        let code = codes.issue("grocy", "session-1", "state-1");
        assert_eq!(codes.redeem(&code, "grocy", "state-1").as_deref(), Some("session-1"));
        assert_eq!(codes.redeem(&code, "grocy", "state-1"), None, "single use");

        let code = codes.issue("grocy", "session-1", "state-1");
        assert_eq!(codes.redeem(&code, "kuma", "state-1"), None, "another app's origin");
        assert_eq!(codes.redeem(&code, "grocy", "state-1"), None, "a failed redemption burns the code");

        let code = codes.issue("grocy", "session-1", "state-1");
        assert_eq!(codes.redeem(&code, "grocy", "state-of-another-browser"), None);
        assert_eq!(codes.redeem("made-up", "grocy", "state-1"), None);
    }

    #[test]
    fn app_names_are_labels() {
        assert!(is_app_name("uptime-kuma") && is_app_name("my_ext") && is_app_name("a1"));
        for bad in ["", "a.b", "a/b", "a b", "é", &"x".repeat(64)] {
            assert!(!is_app_name(bad), "{bad:?}");
        }
    }
}
