//! The end of a GitHub login (`/auth/callback`), free of HTTP: GitHub's answer checked
//! against the login this browser started, the code exchanged, the user read (with their
//! organizations when those can admit them), the admission rule applied, a new session made.

use super::Auth;
use super::cookies::LoginState;
use super::sessions::{NewSession, SessionUser};

/// What GitHub sent back to the callback.
#[derive(Debug, Default, serde::Deserialize)]
pub struct GithubAnswer {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where a login was made from, kept with the session for the sessions list.
pub struct LoginOrigin {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session the browser had before, which the new one replaces.
    pub previous_session: Option<String>,
}

/// A finished login.
pub struct LoggedIn {
    pub user: SessionUser,
    pub session: NewSession,
    /// Where the browser goes now (the login's `rd`, already checked).
    pub return_to: String,
}

/// Why a login did not end in a session.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("GitHub login is not configured on this Luna.")]
    NotConfigured,
    #[error("This login expired or was started in another browser. Start again.")]
    Expired,
    #[error("The login could not be verified (state mismatch). Start again.")]
    StateMismatch,
    #[error("GitHub did not log you in: {0}")]
    Refused(String),
    #[error("GitHub sent no authorization code.")]
    NoCode,
    /// GitHub failed or answered what it should not.
    #[error("{0}")]
    Github(String),
    #[error("Luna could not check your organization membership, so it cannot let you in: {0}")]
    OrganizationsUnknown(String),
    #[error("GitHub user @{0} is not allowed on this Luna. Ask its owner to add you.")]
    NotAllowed(String),
    #[error("Luna cannot store sessions right now.")]
    Unavailable,
}

impl Auth {
    /// Finishes the login `started` (from this browser's login cookie) with GitHub's `answer`.
    pub async fn finish_login(
        &self,
        started: Option<LoginState>,
        answer: GithubAnswer,
        origin: LoginOrigin,
    ) -> Result<LoggedIn, LoginError> {
        let github = self.github.as_ref().ok_or(LoginError::NotConfigured)?;
        let started = started.ok_or(LoginError::Expired)?;
        // The state first: until it checks out, nothing in the answer came from GitHub.
        if !answer.state.as_deref().is_some_and(|given| super::constant_time_eq(given, &started.state)) {
            return Err(LoginError::StateMismatch);
        }
        if let Some(error) = answer.error {
            return Err(LoginError::Refused(answer.error_description.unwrap_or(error)));
        }
        let code = answer.code.ok_or(LoginError::NoCode)?;
        let token =
            github.exchange(&code, &started.verifier).await.map_err(|error| LoginError::Github(error.to_string()))?;
        let mut user = github.user(&token).await.map_err(|error| LoginError::Github(error.to_string()))?;
        if self.checks_orgs() {
            match github.orgs(&token).await {
                Ok(orgs) => user.orgs = self.admitting_orgs(&orgs),
                // Named users get in without their organizations; nobody else does.
                Err(error) if self.names(&user) => {
                    tracing::warn!(login = %user.login, %error, "organization check failed; admitted by name");
                }
                Err(error) => {
                    tracing::warn!(login = %user.login, %error, "organization check failed; login denied");
                    return Err(LoginError::OrganizationsUnknown(error.to_string()));
                }
            }
        }
        if !self.admits(&user) {
            tracing::warn!(login = %user.login, id = user.id, "login refused: not on the allow-list");
            return Err(LoginError::NotAllowed(user.login));
        }
        // A new session id at every login; the browser's previous session (if any) ends.
        if let Some(previous) = origin.previous_session
            && let Err(error) = self.sessions.delete(&previous).await
        {
            tracing::warn!(%error, "could not end the previous session");
        }
        let session = self.sessions.create(&user, origin.user_agent, origin.ip).await.map_err(|error| {
            tracing::error!(%error, "cannot store the session");
            LoginError::Unavailable
        })?;
        tracing::info!(login = %user.login, id = user.id, "logged in");
        Ok(LoggedIn { user, session, return_to: started.rd })
    }
}
