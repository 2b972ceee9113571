//! `luna ext ...`: extensions.

use clap::Subcommand;

use super::output::print_json;
use super::output::table;
use super::service::Target;
use super::{ApiClient, ClientError, OutputArgs};
use crate::supervisor::ExtensionSummary;

#[derive(Debug, Subcommand)]
pub enum ExtCommand {
    /// Every extension found in `extensions/`
    List(OutputArgs),
    /// Enable an extension and start its processes (persists)
    Enable(Target),
    /// Stop an extension's processes and disable it (persists)
    Disable(Target),
}

pub async fn run(client: &ApiClient, command: &ExtCommand) -> Result<(), ClientError> {
    match command {
        ExtCommand::List(output) => {
            let extensions: Vec<ExtensionSummary> = client.get("/api/supervisor/extensions").await?;
            if output.json {
                return print_json(&extensions);
            }
            let rows: Vec<[String; 5]> = extensions
                .iter()
                .map(|extension| {
                    let state = match (&extension.problem, extension.enabled) {
                        (Some(_), _) => "misconfigured",
                        (None, true) => "enabled",
                        (None, false) => "disabled",
                    };
                    let detail = match (&extension.problem, extension.missing_secrets.is_empty()) {
                        (Some(problem), _) => problem.clone(),
                        (None, false) => format!("missing secrets: {}", extension.missing_secrets.join(", ")),
                        (None, true) => String::new(),
                    };
                    [
                        extension.name.clone(),
                        state.to_string(),
                        extension.processes.len().to_string(),
                        extension.tool_count.to_string(),
                        detail,
                    ]
                })
                .collect();
            let rows: Vec<[&str; 5]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
            print!("{}", table(["NAME", "STATE", "PROCESSES", "TOOLS", "DETAIL"], &rows));
            Ok(())
        }
        ExtCommand::Enable(target) => set_enabled(client, target, "enable").await,
        ExtCommand::Disable(target) => set_enabled(client, target, "disable").await,
    }
}

async fn set_enabled(client: &ApiClient, target: &Target, action: &str) -> Result<(), ClientError> {
    let summary: ExtensionSummary =
        client.post(&format!("/api/supervisor/extensions/{}/{action}", target.name)).await?;
    if target.output.json {
        return print_json(&summary);
    }
    println!("{}: {}", summary.name, if summary.enabled { "enabled" } else { "disabled" });
    Ok(())
}
