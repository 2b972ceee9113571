//! `luna clients ...`: MCP clients connected through Luna's OAuth server (one line per
//! grant: a user's approval of an application), and disconnecting one.

use clap::Subcommand;

use super::output::print_json;
use super::output::table;
use super::sessions::age;
use super::{ApiClient, ClientError, OutputArgs};
use crate::oauth::Grant;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Connected MCP clients, newest first
    List(OutputArgs),
    /// Disconnect a client at once: its tokens stop working
    Revoke {
        /// The id from `luna clients list` (a unique prefix is enough)
        id: String,
    },
}

pub async fn run(client: &ApiClient, command: &ClientsCommand) -> Result<(), ClientError> {
    let grants: Vec<Grant> = client.get("/api/supervisor/oauth/clients").await?;
    match command {
        ClientsCommand::List(output) => {
            if output.json {
                return print_json(&grants);
            }
            let rows: Vec<[String; 5]> = grants
                .iter()
                .map(|grant| {
                    [
                        grant.id.chars().take(12).collect(),
                        grant.client_name.clone().unwrap_or_else(|| grant.client_id.clone()),
                        grant.login.clone(),
                        crate::oauth::redirect_uri::display_host(&grant.redirect_uri),
                        age(grant.last_used_at),
                    ]
                })
                .collect();
            let rows: Vec<[&str; 5]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
            print!("{}", table(["ID", "CLIENT", "USER", "REDIRECTS TO", "LAST USED"], &rows));
            Ok(())
        }
        ClientsCommand::Revoke { id } => {
            let matching: Vec<&Grant> = grants.iter().filter(|grant| grant.id.starts_with(id.as_str())).collect();
            let grant = match matching.as_slice() {
                [only] => *only,
                [] => {
                    return Err(ClientError::Status {
                        status: 404,
                        detail: format!("no connected client starts with {id}"),
                    });
                }
                _ => {
                    return Err(ClientError::Status {
                        status: 409,
                        detail: format!("{id} names more than one client"),
                    });
                }
            };
            let _: serde_json::Value =
                client.post(&format!("/api/supervisor/oauth/clients/{}/revoke", grant.id)).await?;
            println!("disconnected {}", grant.client_name.as_deref().unwrap_or(&grant.client_id));
            Ok(())
        }
    }
}
