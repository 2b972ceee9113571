//! Who may do what: every operation a front-end can ask for, the role it needs, and the one
//! check ([`Caller::authorize`]) that the HTTP API (and through it the CLI and the Hub), the
//! MCP admin tools and the agent API all go through.
//!
//! A role is never stored: the gateway, the MCP access check and the grant check derive it
//! from the user and the settings at every use ([`crate::auth::Auth::role_of`]), so a
//! demoted admin is a member on their next request after Luna restarts with the new
//! `auth.admins`, in their old session and through their old OAuth grants alike.

use super::AppError;
pub use crate::allow_list::Role;

/// What a front-end asks the application layer to do, grouped by what it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Status, processes, extensions and their READMEs, tools, external services with
    /// their secrets masked, certificates, the change feed.
    View,
    /// The caller's own sessions and connected MCP clients: list and end.
    ManageOwnAccess,
    /// The tools of extensions over MCP, and the agent API.
    UseTools,
    /// Logs and troubleshooting of processes and external services (a log can hold what a
    /// process printed: tokens, URLs with credentials).
    ReadLogs,
    /// Start, stop, restart processes; enable and disable extensions.
    ControlProcesses,
    /// Install, update, remove extensions; the queue of changes.
    ManageExtensions,
    /// Read and change the keys in `.env`; regenerate `MCP_AUTH_TOKEN`.
    ManageKeys,
    /// See secret values unmasked (external services' connection values, the MCP token).
    RevealSecrets,
    /// Upload, install, uninstall, start, stop, restart, enable, disable external services.
    ManageExternalServices,
    /// Turn tools on and off for MCP and the agent API.
    ConfigureTools,
    /// Ask the CA for a new certificate.
    RenewCertificates,
    /// Everyone's sessions and connected clients.
    ManageAllAccess,
    /// Luna's own MCP tools (`LUNA_*`).
    UseAdminTools,
    /// The audit log: who did what.
    ReadAudit,
    Shutdown,
}

impl Operation {
    /// The role this operation needs: the one table of who may do what.
    pub const fn role(self) -> Role {
        match self {
            Operation::View | Operation::ManageOwnAccess | Operation::UseTools => Role::Member,
            Operation::ReadLogs
            | Operation::ControlProcesses
            | Operation::ManageExtensions
            | Operation::ManageKeys
            | Operation::RevealSecrets
            | Operation::ManageExternalServices
            | Operation::ConfigureTools
            | Operation::RenewCertificates
            | Operation::ManageAllAccess
            | Operation::UseAdminTools
            | Operation::ReadAudit
            | Operation::Shutdown => Role::Admin,
        }
    }

    /// What it is, for a refusal: "… may not <this>".
    fn describe(self) -> &'static str {
        match self {
            Operation::View => "view Luna",
            Operation::ManageOwnAccess => "manage their sessions and clients",
            Operation::UseTools => "use tools",
            Operation::ReadLogs => "read logs",
            Operation::ControlProcesses => "start, stop or restart processes and extensions",
            Operation::ManageExtensions => "install, update or remove extensions",
            Operation::ManageKeys => "read or change keys",
            Operation::RevealSecrets => "reveal secrets",
            Operation::ManageExternalServices => "change external services",
            Operation::ConfigureTools => "turn tools on or off",
            Operation::RenewCertificates => "renew certificates",
            Operation::ManageAllAccess => "manage other people's sessions and clients",
            Operation::UseAdminTools => "use Luna's admin tools",
            Operation::ReadAudit => "read the audit log",
            Operation::Shutdown => "shut Luna down",
        }
    }
}

/// Who asks, as every front-end hands it to the application layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The local owner: the API socket, `MCP_AUTH_TOKEN`, or anyone an open local Luna lets
    /// in. Always an admin.
    Owner,
    /// A GitHub user, in a session or through an MCP client they approved.
    User { login: String, role: Role },
}

impl Caller {
    pub fn role(&self) -> Role {
        match self {
            Caller::Owner => Role::Admin,
            Caller::User { role, .. } => *role,
        }
    }

    pub fn may(&self, operation: Operation) -> bool {
        self.role() >= operation.role()
    }

    /// The check: `Ok` if the caller's role suffices, a refusal naming what is missing
    /// otherwise.
    pub fn authorize(&self, operation: Operation) -> Result<(), AppError> {
        if self.may(operation) {
            return Ok(());
        }
        let who = match self {
            Caller::Owner => "the owner".to_string(),
            Caller::User { login, .. } => format!("@{login}"),
        };
        Err(AppError::Forbidden(format!(
            "{who} is a {} and may not {}: that needs an admin (auth.admins)",
            self.role().as_str(),
            operation.describe()
        )))
    }

    /// The check for a read that reveals secrets when `reveal` is asked (masked values are
    /// for everyone).
    pub fn authorize_reveal(&self, reveal: bool) -> Result<(), AppError> {
        if reveal { self.authorize(Operation::RevealSecrets) } else { Ok(()) }
    }

    /// How the audit log names the caller: `@login`, or `owner`.
    pub fn principal(&self) -> String {
        match self {
            Caller::Owner => "owner".to_string(),
            Caller::User { login, .. } => format!("@{login}"),
        }
    }

    /// Whose sessions and clients this caller sees and ends: `None` for everyone's (an
    /// admin), `Some(login)` for their own.
    pub fn access_scope(&self) -> Option<&str> {
        match self {
            Caller::User { login, .. } if !self.may(Operation::ManageAllAccess) => Some(login),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Caller {
        Caller::User { login: "grace".into(), role: Role::Member }
    }

    #[test]
    fn members_use_and_admins_change() {
        let admin = Caller::User { login: "ada".into(), role: Role::Admin };
        for operation in [Operation::View, Operation::UseTools, Operation::ManageOwnAccess] {
            assert!(member().authorize(operation).is_ok(), "{operation:?}");
        }
        for operation in [Operation::Shutdown, Operation::RevealSecrets, Operation::ManageExtensions] {
            assert!(admin.authorize(operation).is_ok() && Caller::Owner.authorize(operation).is_ok());
            let refusal = member().authorize(operation).unwrap_err().to_string();
            assert!(refusal.starts_with("@grace is a member and may not"), "{refusal}");
        }
    }

    #[test]
    fn a_member_sees_only_their_own_sessions_and_clients() {
        assert_eq!(member().access_scope(), Some("grace"));
        assert_eq!(Caller::User { login: "ada".into(), role: Role::Admin }.access_scope(), None);
        assert_eq!(Caller::Owner.access_scope(), None);
    }
}
