//! `luna ext ...`: extensions.

use bytes::Bytes;
use clap::Subcommand;

use super::output::print_json;
use super::output::table;
use super::service::Target;
use super::{ApiClient, ClientError, OutputArgs};
use crate::packages::Installed;
use crate::supervisor::ExtensionSummary;

#[derive(Debug, Subcommand)]
pub enum ExtCommand {
    /// Every extension found in `extensions/`
    List(OutputArgs),
    /// Enable an extension and start its processes (persists)
    Enable(Target),
    /// Stop an extension's processes and disable it (persists)
    Disable(Target),
    /// Install an extension: github:owner/repo[:path][@ref], a .zip file or a folder
    Install {
        /// `github:owner/repo[:path][@ref]`, a path to a `.zip`, or a path to a folder
        source: String,
        /// Install under this folder name instead of the source's own
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Update an extension to the newest commit of its source (or to --source)
    Update {
        name: String,
        /// A new source (as for install)
        #[arg(long)]
        source: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Stop an extension and delete it with its settings
    Remove(Target),
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
        ExtCommand::Install { source, name, output } => {
            let source = server_source(client, source).await?;
            let body = serde_json::json!({ "source": source, "name": name });
            let installed: Installed = follow_install(client, "/api/supervisor/extensions/install", &body).await?;
            report(&installed, output.json)
        }
        ExtCommand::Update { name, source, output } => {
            let source = match source {
                Some(source) => Some(server_source(client, source).await?),
                None => None,
            };
            let path = format!("/api/supervisor/extensions/{name}/update");
            let installed: Installed = follow_install(client, &path, &serde_json::json!({ "source": source })).await?;
            report(&installed, output.json)
        }
        ExtCommand::Remove(target) => {
            let path = format!("/api/supervisor/extensions/{}", target.name);
            let removed: serde_json::Value = client.call("DELETE", &path, Bytes::new()).await?;
            if target.output.json {
                return print_json(&removed);
            }
            println!("{}: removed", target.name);
            Ok(())
        }
    }
}

/// What the server installs from: a GitHub source as given, a zip uploaded first, a folder
/// by its absolute path.
async fn server_source(client: &ApiClient, source: &str) -> Result<String, ClientError> {
    let invalid = |detail: String| ClientError::Status { status: 400, detail };
    if source.starts_with("github:") || source.starts_with("upload:") || source.starts_with("local:") {
        return Ok(source.to_string());
    }
    let path = std::path::Path::new(source);
    let metadata = std::fs::metadata(path)
        .map_err(|error| invalid(format!("`{source}`: {error} (a source is github:owner/repo, a .zip or a folder)")))?;
    if metadata.is_dir() {
        let folder = path.canonicalize().map_err(|error| invalid(format!("`{source}`: {error}")))?;
        return Ok(format!("local:{}", folder.display()));
    }
    let bytes = std::fs::read(path).map_err(|error| invalid(format!("`{source}`: {error}")))?;
    let uploaded: serde_json::Value =
        client.call("POST", "/api/supervisor/extensions/uploads", Bytes::from(bytes)).await?;
    uploaded["source"].as_str().map(str::to_string).ok_or_else(|| ClientError::Transport("no upload id".into()))
}

/// Posts an install or update and prints its progress on stderr until it ends.
pub(super) async fn follow_install<T: serde::de::DeserializeOwned>(
    client: &ApiClient,
    path: &str,
    body: &serde_json::Value,
) -> Result<T, ClientError> {
    let body = serde_json::to_vec(body).map_err(|error| ClientError::Transport(error.to_string()))?;
    let mut outcome: Result<Option<T>, ClientError> = Ok(None);
    client
        .events("POST", path, Bytes::from(body), |event, data| {
            let value: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            match event {
                "step" => eprintln!("{}", value["message"].as_str().unwrap_or_default()),
                "output" => eprintln!("  {}", value["line"].as_str().unwrap_or_default()),
                "installed" => {
                    outcome = serde_json::from_value(value).map(Some).map_err(|e| ClientError::Transport(e.to_string()))
                }
                "error" => outcome = Err(ClientError::from_error_event(&value)),
                _ => {}
            }
        })
        .await?;
    outcome?.ok_or_else(|| ClientError::Transport("the install stream ended early".into()))
}

pub(super) fn report(installed: &Installed, json: bool) -> Result<(), ClientError> {
    if json {
        return print_json(installed);
    }
    let extension = &installed.extension;
    let commit = installed.provenance.commit.as_deref().map_or(String::new(), |commit| format!(" at {:.12}", commit));
    let verb = if installed.replaced { "updated" } else { "installed" };
    println!("{}: {verb} from {}{commit}", extension.name, installed.provenance.source);
    println!("  {} processes, {} tools", extension.processes.len(), extension.tool_count);
    if !extension.missing_secrets.is_empty() {
        println!("  missing keys: {} (luna keys set KEY)", extension.missing_secrets.join(", "));
    }
    if let Some(problem) = &installed.problem {
        println!("  {problem} (luna service troubleshoot <process>)");
    }
    Ok(())
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
