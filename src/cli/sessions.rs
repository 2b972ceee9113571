//! `luna sessions ...`: who is logged in, and ending a session. On the API socket the CLI
//! acts as the owner and sees every session.

use clap::Subcommand;

use super::output::print_json;
use super::output::table;
use super::{ApiClient, ClientError, OutputArgs};
use crate::auth::sessions::SessionInfo;

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Live sessions, newest first
    List(OutputArgs),
    /// End a session at once (its cookie stops working)
    Revoke {
        /// The session id from `luna sessions list`
        id: String,
    },
}

pub async fn run(client: &ApiClient, command: &SessionsCommand) -> Result<(), ClientError> {
    match command {
        SessionsCommand::List(output) => {
            let sessions: Vec<SessionInfo> = client.get("/api/supervisor/sessions").await?;
            if output.json {
                return print_json(&sessions);
            }
            let rows: Vec<[String; 5]> = sessions
                .iter()
                .map(|session| {
                    [
                        session.id.chars().take(16).collect(),
                        session.login.clone(),
                        age(session.last_seen_at),
                        session.ip.clone().unwrap_or_default(),
                        session.user_agent.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            let rows: Vec<[&str; 5]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
            print!("{}", table(["ID", "LOGIN", "LAST SEEN", "FROM", "BROWSER"], &rows));
            Ok(())
        }
        SessionsCommand::Revoke { id } => {
            let id = full_id(client, id).await?;
            let _: serde_json::Value = client.post(&format!("/api/supervisor/sessions/{id}/revoke")).await?;
            println!("revoked {}", &id[..16.min(id.len())]);
            Ok(())
        }
    }
}

/// The list shows 16 characters; accept any unique prefix.
async fn full_id(client: &ApiClient, prefix: &str) -> Result<String, ClientError> {
    let sessions: Vec<SessionInfo> = client.get("/api/supervisor/sessions").await?;
    let matching: Vec<&SessionInfo> = sessions.iter().filter(|session| session.id.starts_with(prefix)).collect();
    match matching.as_slice() {
        [only] => Ok(only.id.clone()),
        [] => Err(ClientError::Status { status: 404, detail: format!("no session starts with {prefix}") }),
        _ => Err(ClientError::Status { status: 409, detail: format!("more than one session starts with {prefix}") }),
    }
}

pub(super) fn age(unix: i64) -> String {
    let seconds = (crate::clock::unix_now() as i64 - unix).max(0);
    match seconds {
        0..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86400),
    }
}
