//! `luna tools ...` (the tool registry) and `luna token` (the local MCP bearer).

use clap::{Args, Subcommand};
use serde::Deserialize;

use super::output::print_json;
use super::output::table;
use super::{ApiClient, ClientError, OutputArgs};
use crate::home::LunaHome;

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Every tool of every running tool host, with its flags
    List(OutputArgs),
    /// Offer a tool at /api/mcp (sets `enabled_in_mcp`, persists)
    Enable(ToolTarget),
    /// Stop offering a tool at /api/mcp (persists)
    Disable(ToolTarget),
}

#[derive(Debug, Args)]
pub struct ToolTarget {
    /// The tool's name, e.g. HELLO_GET_greeting
    pub name: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Deserialize)]
struct Report {
    tools: Vec<serde_json::Value>,
    hosts: std::collections::BTreeMap<String, serde_json::Value>,
}

pub async fn run(client: &ApiClient, command: &ToolsCommand) -> Result<(), ClientError> {
    match command {
        ToolsCommand::List(output) => {
            let report: serde_json::Value = client.get("/api/supervisor/tools").await?;
            if output.json {
                return print_json(&report);
            }
            let report: Report =
                serde_json::from_value(report).map_err(|error| ClientError::Transport(error.to_string()))?;
            let text = |value: &serde_json::Value, key: &str| {
                value.get(key).and_then(|v| v.as_str()).unwrap_or("").to_string()
            };
            let flag =
                |value: &serde_json::Value, key: &str| if value[key].as_bool() == Some(true) { "yes" } else { "no" };
            let rows: Vec<[String; 5]> = report
                .tools
                .iter()
                .map(|tool| {
                    [
                        text(tool, "name"),
                        text(tool, "extension"),
                        flag(tool, "in_mcp").to_string(),
                        flag(tool, "passthrough").to_string(),
                        text(tool, "problem"),
                    ]
                })
                .collect();
            let rows: Vec<[&str; 5]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
            print!("{}", table(["TOOL", "EXTENSION", "IN MCP", "PASSTHROUGH", "PROBLEM"], &rows));
            for (key, host) in &report.hosts {
                if let Some(error) = host.get("error").and_then(|e| e.as_str()) {
                    println!("\n{key} ({}): {error}", text(host, "status"));
                }
            }
            Ok(())
        }
        ToolsCommand::Enable(target) => set_in_mcp(client, target, true).await,
        ToolsCommand::Disable(target) => set_in_mcp(client, target, false).await,
    }
}

async fn set_in_mcp(client: &ApiClient, target: &ToolTarget, enabled: bool) -> Result<(), ClientError> {
    let body = serde_json::json!({ "enabled_in_mcp": enabled });
    let flags: serde_json::Value = client.post_json(&format!("/api/supervisor/tools/{}", target.name), &body).await?;
    if target.output.json {
        return print_json(&flags);
    }
    println!("{}: {}", target.name, if enabled { "offered at /api/mcp" } else { "not offered at /api/mcp" });
    Ok(())
}

/// `luna token [--metrics|--agent]`: prints `MCP_AUTH_TOKEN` (or `LUNA_METRICS_TOKEN`, or
/// `AGENT_API_KEY`) from `<home>/.env`, generating it if this home has none yet (as `luna
/// serve` does on first start).
pub fn print_token(home: &LunaHome, key: &str) -> Result<(), String> {
    let path = home.env_file();
    let secrets = crate::env_file::EnvFile::load(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let token = match secrets.get(key).filter(|token| !token.is_empty()) {
        Some(token) => token.to_string(),
        None => {
            let token = crate::server::new_token(key);
            crate::env_file::edit(&path, &[(key, Some(&token))])
                .map_err(|error| format!("writing {}: {error}", path.display()))?;
            token
        }
    };
    println!("{token}");
    Ok(())
}
