//! `luna service ...`: the processes of extensions.

use clap::Subcommand;

use super::output::{print_json, table};
use super::{ApiClient, ClientError, OutputArgs};
use crate::app::{LogTail, Troubleshooting};
use crate::supervisor::{ProcessRecord, ServicesState};

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Every managed process with its status
    List(OutputArgs),
    /// Start a process (clears `failed`)
    Start(Target),
    /// Stop a process (it stays stopped until started)
    Stop(Target),
    /// Stop and start a process (clears `failed`)
    Restart(Target),
    /// Print a process's recent output; -f keeps following it
    Logs {
        name: String,
        /// Keep printing new lines until interrupted
        #[arg(short, long)]
        follow: bool,
        /// Lines of history (at most 1000)
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: usize,
    },
    /// Status, last exit, last health error, port owner and log tail in one answer
    Troubleshoot(Target),
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// `<extension>_ui`, `<extension>_tools` or `<extension>.<service>`
    pub name: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn run(client: &ApiClient, command: &ServiceCommand) -> Result<(), ClientError> {
    match command {
        ServiceCommand::List(output) => {
            let state: ServicesState = client.get("/api/supervisor/services").await?;
            if output.json {
                return print_json(&state);
            }
            let rows: Vec<[String; 5]> = state
                .services
                .iter()
                .map(|(key, record)| {
                    [
                        key.clone(),
                        status_word(record),
                        record.pid.map_or("-".into(), |pid| pid.to_string()),
                        record.port.map_or("-".into(), |port| port.to_string()),
                        record.error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            let rows: Vec<[&str; 5]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
            print!("{}", table(["NAME", "STATUS", "PID", "PORT", "DETAIL"], &rows));
            Ok(())
        }
        ServiceCommand::Start(target) => control(client, target, "start").await,
        ServiceCommand::Stop(target) => control(client, target, "stop").await,
        ServiceCommand::Restart(target) => control(client, target, "restart").await,
        ServiceCommand::Logs { name, follow, lines } => {
            let path = format!("/api/supervisor/services/{name}/logs?tail={lines}");
            if *follow {
                return client.follow(&format!("{path}&follow=true"), |line| println!("{line}")).await;
            }
            let tail: LogTail = client.get(&path).await?;
            for line in tail.lines {
                println!("{line}");
            }
            Ok(())
        }
        ServiceCommand::Troubleshoot(target) => {
            let report: Troubleshooting =
                client.get(&format!("/api/supervisor/services/{}/troubleshoot", target.name)).await?;
            if target.output.json {
                return print_json(&report);
            }
            print_troubleshooting(&report);
            Ok(())
        }
    }
}

async fn control(client: &ApiClient, target: &Target, action: &str) -> Result<(), ClientError> {
    let path = format!("/api/supervisor/services/{}/{action}", target.name);
    let record: ProcessRecord = client.post(&path).await?;
    if target.output.json {
        return print_json(&record);
    }
    println!("{}: {}", target.name, status_word(&record));
    Ok(())
}

fn print_troubleshooting(report: &Troubleshooting) {
    let record = &report.record;
    println!("{}: {}", report.key, status_word(record));
    if let Some(error) = &record.error {
        println!("  problem:       {error}");
    }
    println!("  pid:           {}", record.pid.map_or("-".into(), |pid| pid.to_string()));
    println!("  restarts:      {}", record.restarts);
    if let Some(exit) = &record.last_exit {
        println!("  last exit:     {}", exit.describe());
    }
    if let Some(health) = &record.last_health_check {
        let outcome = if health.ok { "ok".to_string() } else { health.error.clone().unwrap_or_default() };
        println!("  last health:   {outcome}");
    }
    if let Some(port) = record.port {
        let owner = match &report.port_owner {
            Some(owner) if Some(owner.pid) == record.pid => format!("this process (pid {})", owner.pid),
            Some(owner) => format!("pid {} ({})", owner.pid, owner.command),
            None => "nobody is listening".to_string(),
        };
        println!("  port {port}:    {owner}");
    }
    println!("  log file:      {}", record.log_file);
    println!("  recent output:");
    for line in &report.log_tail {
        println!("    {line}");
    }
}

fn status_word(record: &ProcessRecord) -> String {
    serde_json::to_value(record.status).ok().and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default()
}
