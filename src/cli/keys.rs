//! `luna keys ...`: the Key Manager. Values are masked in every listing; a value to set is
//! read from stdin when not given, so it stays out of shell history.

use std::io::Read;

use bytes::Bytes;
use clap::Subcommand;

use super::output::{print_json, table};
use super::{ApiClient, ClientError, OutputArgs};
use crate::app::{KeyChange, KeysReport};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Every key (masked) and the keys each extension requires
    List(OutputArgs),
    /// Set a key; without VALUE it is read from stdin
    Set {
        key: String,
        value: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a key
    Delete {
        key: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Merge a .env file into the keys (its values win)
    Import {
        file: std::path::PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub async fn run(client: &ApiClient, command: &KeysCommand) -> Result<(), ClientError> {
    match command {
        KeysCommand::List(output) => {
            let report: KeysReport = client.get("/api/supervisor/keys").await?;
            if output.json {
                return print_json(&report);
            }
            let rows: Vec<[String; 3]> = report
                .keys
                .iter()
                .map(|key| [key.name.clone(), key.masked.clone(), key.required_by.join(", ")])
                .collect();
            let rows: Vec<[&str; 3]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
            print!("{}", table(["KEY", "VALUE", "REQUIRED BY"], &rows));
            for missing in report.required.iter().filter(|requirement| !requirement.set) {
                println!("missing: {} (required by {})", missing.key, missing.extension);
            }
            Ok(())
        }
        KeysCommand::Set { key, value, output } => {
            let value = match value {
                Some(value) => value.clone(),
                None => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|error| ClientError::Transport(format!("reading the value from stdin: {error}")))?;
                    text.trim_end_matches(['\n', '\r']).to_string()
                }
            };
            let body = serde_json::to_vec(&serde_json::json!({ "value": value }))
                .map_err(|error| ClientError::Transport(error.to_string()))?;
            let change: KeyChange =
                client.call("PUT", &format!("/api/supervisor/keys/{key}"), Bytes::from(body)).await?;
            print_change(&change, "set", output.json)
        }
        KeysCommand::Delete { key, output } => {
            let change: KeyChange = client.call("DELETE", &format!("/api/supervisor/keys/{key}"), Bytes::new()).await?;
            print_change(&change, "deleted", output.json)
        }
        KeysCommand::Import { file, output } => {
            let text = std::fs::read(file)
                .map_err(|error| ClientError::Status { status: 400, detail: format!("{}: {error}", file.display()) })?;
            let change: KeyChange = client.call("POST", "/api/supervisor/keys/import", Bytes::from(text)).await?;
            print_change(&change, "imported", output.json)
        }
    }
}

fn print_change(change: &KeyChange, verb: &str, json: bool) -> Result<(), ClientError> {
    if json {
        return print_json(change);
    }
    println!("{verb}: {}", change.changed.join(", "));
    if !change.restart_needed.is_empty() {
        println!(
            "running processes see the old value until restarted: {} (luna service restart <name>)",
            change.restart_needed.join(", ")
        );
    }
    Ok(())
}
