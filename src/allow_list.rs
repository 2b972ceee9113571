//! Who may use a Luna that logs people in with GitHub: `auth.allowed_users` and
//! `auth.allowed_orgs`, and the one admission rule every decision applies (login, the
//! session check on every request, OAuth consent, token exchange, refresh, `/api/mcp`);
//! and who may change it: `auth.admins`, the one role rule ([`AllowList::role`]).
//!
//! An entry is a numeric GitHub id (all digits) or a login, never both: GitHub allows
//! all-digit logins, so reading `4242` as a login too would let whoever registers the login
//! `4242` in. An id survives renames and cannot be taken over; a login can be released and
//! registered again by someone else. Anything that is neither is refused at start-up. Logins
//! are letters, digits, `-` and, for GitHub Enterprise managed users (`handle_shortcode`), `_`.
//!
//! A user admitted through an organization keeps the organizations that admitted them (id
//! and login, as GitHub reported them at login), so a later allow-list can be applied again
//! to their session and their MCP grants without asking GitHub: membership itself is only
//! learnt at login.

use serde::{Deserialize, Serialize};

/// Longest GitHub login or organization name accepted (39 on github.com; managed users add
/// `_` and their enterprise's short code).
const MAX_LOGIN: usize = 100;

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// GitHub's numeric id of a user or organization.
    Id(i64),
    /// A login, compared case-insensitively as GitHub does.
    Login(String),
}

impl Entry {
    /// Reads one entry as written in the settings.
    pub fn parse(text: &str) -> Result<Self, String> {
        let entry = text.trim();
        if !entry.is_empty() && entry.bytes().all(|byte| byte.is_ascii_digit()) {
            return match entry.parse::<i64>() {
                Ok(id) if id > 0 && !entry.starts_with('0') => Ok(Self::Id(id)),
                _ => Err(format!("`{entry}` is not a GitHub id (ids are positive, without leading zeros)")),
            };
        }
        if let Some(login) = entry.strip_prefix('@') {
            return Err(format!("write `{login}` without the @"));
        }
        let shaped = (1..=MAX_LOGIN).contains(&entry.len())
            && !entry.starts_with('-')
            && entry.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if shaped {
            Ok(Self::Login(entry.to_string()))
        } else {
            Err(format!(
                "`{entry}` is neither a GitHub login (letters, digits, `-` and `_`, at most {MAX_LOGIN}) nor a \
                 numeric GitHub id (which any account has: https://api.github.com/users/<login>)"
            ))
        }
    }

    fn matches(&self, account: &Account) -> bool {
        match self {
            Self::Id(id) => *id == account.id,
            Self::Login(login) => login.eq_ignore_ascii_case(&account.login),
        }
    }
}

/// A GitHub user or organization: its stable id and its current login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    pub login: String,
}

/// What someone admitted may do. `Member < Admin`: an admin may do what a member may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Uses Luna: read-only views, extension and app UIs, their own sessions and MCP
    /// clients, the tools that are not admin tools, the agent API.
    Member,
    /// Changes Luna: extensions, keys, external services, settings, others' sessions and
    /// clients, admin tools, shutdown.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    /// Reads [`Role::as_str`]'s words; anything else is nobody's role.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// `auth.allowed_users`, `auth.allowed_orgs` and `auth.admins`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    users: Vec<Entry>,
    orgs: Vec<Entry>,
    /// `None`: `auth.admins` is not set, and the users named in `users` are the admins.
    admins: Option<Vec<Entry>>,
}

impl AllowList {
    pub fn new(users: Vec<Entry>, orgs: Vec<Entry>) -> Self {
        Self { users, orgs, admins: None }
    }

    /// Names the admins (`auth.admins`) instead of every user of `allowed_users`.
    pub fn with_admins(mut self, admins: Vec<Entry>) -> Self {
        self.admins = Some(admins);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.orgs.is_empty()
    }

    /// `2 users and 1 organization`, for status lines.
    pub fn describe(&self) -> String {
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        format!("{} and {}", count(self.users.len(), "user"), count(self.orgs.len(), "organization"))
    }

    /// Whether organization membership can admit someone (so a login must ask GitHub).
    pub fn has_orgs(&self) -> bool {
        !self.orgs.is_empty()
    }

    /// Whether `auth.allowed_users` names the user.
    pub fn names(&self, user: &Account) -> bool {
        self.users.iter().any(|entry| entry.matches(user))
    }

    /// The organizations among `orgs` that `auth.allowed_orgs` names.
    pub fn admitting(&self, orgs: &[Account]) -> Vec<Account> {
        orgs.iter().filter(|org| self.orgs.iter().any(|entry| entry.matches(org))).cloned().collect()
    }

    /// The rule: named as a user, or a member (at login) of an organization still named.
    pub fn admits(&self, user: &Account, orgs: &[Account]) -> bool {
        self.names(user) || !self.admitting(orgs).is_empty()
    }

    /// The role of an admitted user: admin if `auth.admins` names them, or, without
    /// `auth.admins`, if `allowed_users` does (so a single-user setup needs no new setting);
    /// a member otherwise. Organization membership never makes an admin.
    pub fn role(&self, user: &Account) -> Role {
        let admins = self.admins.as_ref().unwrap_or(&self.users);
        if admins.iter().any(|entry| entry.matches(user)) { Role::Admin } else { Role::Member }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, login: &str) -> Account {
        Account { id, login: login.into() }
    }

    fn list(users: &[&str], orgs: &[&str]) -> AllowList {
        let parse = |entries: &[&str]| entries.iter().map(|entry| Entry::parse(entry).unwrap()).collect();
        AllowList::new(parse(users), parse(orgs))
    }

    #[test]
    fn an_all_digit_entry_is_an_id_and_never_a_login() {
        let allowed = list(&["4242"], &[]);
        assert!(allowed.names(&account(4242, "ada")));
        assert!(!allowed.names(&account(77, "4242")), "whoever registers the login 4242 is a stranger");
    }

    #[test]
    fn logins_compare_case_insensitively_and_only_as_logins() {
        let allowed = list(&["Ada"], &[]);
        assert!(allowed.names(&account(1, "ada")));
        assert!(!allowed.names(&account(2, "ada2")));
    }

    #[test]
    fn entries_that_are_neither_are_refused() {
        for bad in ["", "@ada", "ada lovelace", "-ada", "0", "04242", "99999999999999999999", "ad@", "a/b"] {
            assert!(Entry::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Entry::parse(" ada-l "), Ok(Entry::Login("ada-l".into())));
        assert_eq!(Entry::parse("ada_corp"), Ok(Entry::Login("ada_corp".into())), "a managed user");
        assert_eq!(Entry::parse("12"), Ok(Entry::Id(12)));
        assert!(Entry::parse("@ada").unwrap_err().contains("without the @"));
    }

    #[test]
    fn admins_are_named_never_made_by_an_organization() {
        let ada = account(1, "ada");
        let grace = account(7, "grace");
        let implicit = list(&["ada"], &["alpha"]);
        assert_eq!(implicit.role(&ada), Role::Admin, "without auth.admins, the named users are admins");
        assert_eq!(implicit.role(&grace), Role::Member, "an organization member is a member");
        let explicit = list(&["ada"], &["alpha"]).with_admins(vec![Entry::Id(7)]);
        assert_eq!(explicit.role(&grace), Role::Admin, "auth.admins by id");
        assert_eq!(explicit.role(&ada), Role::Member, "auth.admins replaces the implicit admins");
        assert_eq!(explicit.role(&account(8, "7")), Role::Member, "an all-digit entry is an id, never a login");
        assert_eq!(list(&[], &[]).with_admins(vec![]).role(&ada), Role::Member);
    }

    #[test]
    fn organizations_admit_by_id_or_login_while_they_are_listed() {
        let alpha = account(900, "alpha");
        let allowed = list(&[], &["ALPHA"]);
        assert!(allowed.admits(&account(1, "ada"), std::slice::from_ref(&alpha)));
        assert_eq!(allowed.admitting(&[alpha.clone(), account(901, "beta")]), vec![alpha.clone()]);
        assert!(list(&[], &["900"]).admits(&account(1, "ada"), std::slice::from_ref(&alpha)));
        assert!(!list(&[], &["beta"]).admits(&account(1, "ada"), &[alpha]), "the org was taken off the list");
        assert!(!list(&[], &["alpha"]).admits(&account(1, "ada"), &[]), "no membership recorded");
    }
}
