//! `luna infra ...`: external services (Docker), through `/api/external-services`.

use std::collections::BTreeMap;

use bytes::Bytes;
use clap::{Args, Subcommand};

use super::output::print_json;
use super::output::table;
use super::{ApiClient, ClientError, OutputArgs};
use crate::external::{Available, Details, InstalledView, Uninstalled};

#[derive(Debug, Subcommand)]
pub enum InfraCommand {
    /// Every service definition, and which are installed
    List(OutputArgs),
    /// A service's definition, form and, once installed, status and connection values
    Show {
        name: String,
        /// Show passwords and other secret values in clear
        #[arg(long)]
        reveal: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Install: fills the form (defaults, generated passwords), pulls, creates, starts
    Install {
        name: String,
        /// A form value, e.g. --set port=5433 (repeat for more)
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        values: Vec<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    Start(Name),
    Stop(Name),
    Restart(Name),
    /// Start the container when Docker starts (restart policy unless-stopped)
    Enable(Name),
    /// Do not start it with Docker (restart policy no)
    Disable(Name),
    /// The container's output
    Logs {
        name: String,
        /// Keep printing new lines until interrupted
        #[arg(short, long)]
        follow: bool,
        /// Lines of history
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
    },
    /// Remove the container; its data volumes stay unless --remove-data
    Uninstall {
        name: String,
        /// Also delete the data volumes (`luna infra show` lists them)
        #[arg(long)]
        remove_data: bool,
    },
}

#[derive(Debug, Args)]
pub struct Name {
    pub name: String,
}

const BASE: &str = "/api/external-services";

pub async fn run(client: &ApiClient, command: &InfraCommand) -> Result<(), ClientError> {
    match command {
        InfraCommand::List(output) => {
            let services: Vec<Available> = client.get(&format!("{BASE}/available")).await?;
            if output.json {
                return print_json(&services);
            }
            let rows: Vec<[String; 4]> = services
                .iter()
                .map(|service| {
                    let state = match (&service.problem, service.status) {
                        (Some(problem), _) => format!("unusable: {problem}"),
                        (None, Some(status)) => serde_json::to_value(status)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        (None, None) => "available".into(),
                    };
                    [service.name.clone(), service.kind.clone(), state, service.description.clone()]
                })
                .collect();
            let rows: Vec<[&str; 4]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
            print!("{}", table(["NAME", "KIND", "STATE", "DESCRIPTION"], &rows));
            Ok(())
        }
        InfraCommand::Show { name, reveal, output } => {
            let details: Details = client.get(&format!("{BASE}/{name}?reveal={reveal}")).await?;
            if output.json {
                return print_json(&details);
            }
            print!("{}", describe(&details));
            Ok(())
        }
        InfraCommand::Install { name, values, output } => install(client, name, values, output).await,
        InfraCommand::Start(Name { name }) => act(client, name, "start").await,
        InfraCommand::Stop(Name { name }) => act(client, name, "stop").await,
        InfraCommand::Restart(Name { name }) => act(client, name, "restart").await,
        InfraCommand::Enable(Name { name }) => act(client, name, "enable").await,
        InfraCommand::Disable(Name { name }) => act(client, name, "disable").await,
        InfraCommand::Logs { name, follow, lines } => {
            let path = format!("{BASE}/{name}/logs?lines={lines}");
            if *follow {
                return client.follow(&format!("{path}&follow=true"), |line| println!("{line}")).await;
            }
            let logs: serde_json::Value = client.get(&path).await?;
            for line in logs["lines"].as_array().into_iter().flatten() {
                println!("{}", line.as_str().unwrap_or_default());
            }
            Ok(())
        }
        InfraCommand::Uninstall { name, remove_data } => {
            if *remove_data {
                let details: Details = client.get(&format!("{BASE}/{name}")).await?;
                eprintln!("deleting the data volumes of {name}: {}", details.data_volumes.join(", "));
            }
            let body = serde_json::json!({ "remove_data": remove_data });
            let done: Uninstalled = client.post_json(&format!("{BASE}/{name}/uninstall"), &body).await?;
            println!("removed container {}", done.removed_container);
            if !done.removed_volumes.is_empty() {
                println!("deleted volumes: {}", done.removed_volumes.join(", "));
            }
            if !done.kept_volumes.is_empty() {
                println!(
                    "kept volumes (data): {} — `docker volume rm` them to free the space",
                    done.kept_volumes.join(", ")
                );
            }
            Ok(())
        }
    }
}

async fn act(client: &ApiClient, name: &str, action: &str) -> Result<(), ClientError> {
    let view: InstalledView = client.post(&format!("{BASE}/{name}/{action}")).await?;
    println!("{name}: {}{}", status_text(&view), if view.enabled { " (auto-start on)" } else { " (auto-start off)" });
    Ok(())
}

fn status_text(view: &InstalledView) -> String {
    let status =
        serde_json::to_value(view.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    match &view.status_detail {
        Some(detail) => format!("{status} ({detail})"),
        None => status,
    }
}

fn describe(details: &Details) -> String {
    let mut out = format!("{} ({})\n", details.name, if details.kind.is_empty() { "broken" } else { &details.kind });
    if let Some(problem) = &details.problem {
        out.push_str(&format!("  unusable: {problem}\n"));
    }
    match &details.installed {
        Some(view) => out.push_str(&describe_installed(view)),
        None => {
            out.push_str("  not installed; form fields:\n");
            for field in details.form.iter().flat_map(|form| &form.fields) {
                let default = field.default.as_ref().map(|d| format!(" (default {d})")).unwrap_or_default();
                let required = if field.required { ", required" } else { "" };
                out.push_str(&format!("    {} [{:?}{required}]{default}\n", field.name, field.kind));
            }
        }
    }
    if !details.data_volumes.is_empty() {
        out.push_str(&format!("  data volumes: {}\n", details.data_volumes.join(", ")));
    }
    out
}

fn describe_installed(view: &InstalledView) -> String {
    let mut lines: Vec<(String, String)> = vec![
        ("status".into(), status_text(view)),
        ("auto-start".into(), if view.enabled { "on" } else { "off" }.into()),
        ("container".into(), format!("{} ({})", view.container, view.image)),
    ];
    if let Some(path) = &view.ui_path {
        lines.push(("web UI".into(), path.clone()));
    }
    let values: BTreeMap<&String, String> = view
        .config
        .iter()
        .map(|(key, value)| (key, value.as_str().map_or_else(|| value.to_string(), str::to_string)))
        .collect();
    lines.extend(values.into_iter().map(|(key, value)| (format!("config {key}"), value)));
    lines.extend(view.exports.iter().map(|(key, value)| (key.clone(), value.clone())));
    let width = lines.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    lines.iter().map(|(label, value)| format!("  {label:<width$}  {value}\n")).collect()
}

/// Installs external service `name` with the form values `values` (`FIELD=VALUE`), printing
/// its progress on stderr; `luna store install` ends here for a service too.
pub(super) async fn install(
    client: &ApiClient,
    name: &str,
    values: &[String],
    output: &OutputArgs,
) -> Result<(), ClientError> {
    let mut config = serde_json::Map::new();
    for pair in values {
        let (field, value) = pair.split_once('=').ok_or_else(|| ClientError::Status {
            status: 400,
            detail: format!("--set {pair}: expected FIELD=VALUE"),
        })?;
        config.insert(field.to_string(), serde_json::Value::String(value.to_string()));
    }
    let body = serde_json::to_vec(&serde_json::json!({ "config": config }))
        .map_err(|error| ClientError::Transport(error.to_string()))?;
    let mut outcome: Result<Option<InstalledView>, ClientError> = Ok(None);
    client
        .events("POST", &format!("{BASE}/{name}/install"), Bytes::from(body), |event, data| {
            let value: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            match event {
                "step" => eprintln!("{}", value["message"].as_str().unwrap_or_default()),
                "pull" => {
                    let layer = value["layer"].as_str().unwrap_or("");
                    let status = value["status"].as_str().unwrap_or("");
                    match (value["current"].as_i64(), value["total"].as_i64()) {
                        (Some(current), Some(total)) if total > 0 => {
                            eprintln!("  {layer} {status} {}%", current * 100 / total)
                        }
                        _ => eprintln!("  {layer} {status}"),
                    }
                }
                "installed" => {
                    outcome = serde_json::from_value(value).map(Some).map_err(|e| ClientError::Transport(e.to_string()))
                }
                "error" => outcome = Err(ClientError::from_error_event(&value)),
                _ => {}
            }
        })
        .await?;
    let view = outcome?.ok_or_else(|| ClientError::Transport("the install stream ended early".into()))?;
    if output.json {
        return print_json(&view);
    }
    print!("{}", describe_installed(&view));
    Ok(())
}
