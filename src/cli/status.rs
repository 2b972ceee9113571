//! `luna status`: one table of what is running.

use super::output::table;
use super::{ApiClient, ClientError};
use crate::app::StatusReport;

pub async fn run(client: &ApiClient, json: bool) -> Result<(), ClientError> {
    if json {
        let report: serde_json::Value = client.get("/api/supervisor/status").await?;
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return Ok(());
    }
    let report: StatusReport = client.get("/api/supervisor/status").await?;
    println!(
        "luna {} (pid {}), {} mode, up {}",
        report.version,
        report.pid,
        report.deployment_mode,
        format_duration(report.uptime_seconds)
    );
    println!();
    let rows: Vec<[&str; 3]> = report
        .components
        .iter()
        .map(|component| [component.name.as_str(), component.status.as_str(), component.detail.as_str()])
        .collect();
    print!("{}", table(["COMPONENT", "STATUS", "DETAIL"], &rows));
    if let Some(https) = &report.https {
        println!();
        println!("HTTPS");
        for line in super::certs::describe(https).lines() {
            println!("  {line}");
        }
    }
    Ok(())
}

fn format_duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ => format!("{}h {}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(5), "5s");
        assert_eq!(format_duration(125), "2m 5s");
        assert_eq!(format_duration(7260), "2h 1m");
    }
}
