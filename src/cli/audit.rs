//! `luna audit [--follow]`: the audit log, newest last, as a table or JSON lines.

use clap::Args;

use super::output::{print_json, table};
use super::sessions::age;
use super::{ApiClient, ClientError};
use crate::audit::AuditEntry;

/// How often `--follow` asks for new entries.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this action (`login`, `enable_extension`, `tool_call`, ...)
    #[arg(long)]
    action: Option<String>,
    /// Only this principal (`@login` or `owner`)
    #[arg(long)]
    principal: Option<String>,
    /// How many of the newest entries
    #[arg(long, short = 'n', default_value_t = 50)]
    limit: u32,
    /// Then print new entries as they are recorded (one per line)
    #[arg(long, short = 'f')]
    follow: bool,
    /// Print JSON (one array; with --follow one object per line)
    #[arg(long)]
    json: bool,
}

pub async fn run(client: &ApiClient, args: &AuditArgs) -> Result<(), ClientError> {
    let filters = filters(args);
    let mut entries: Vec<AuditEntry> =
        client.get(&format!("/api/supervisor/audit?limit={}{filters}", args.limit)).await?;
    entries.reverse();
    if args.json && !args.follow {
        return print_json(&entries);
    }
    print_entries(&entries, args.json, true);
    if !args.follow {
        return Ok(());
    }
    let mut last = entries.last().map_or(0, |entry| entry.id);
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let new: Vec<AuditEntry> = client.get(&format!("/api/supervisor/audit?after={last}{filters}")).await?;
        if let Some(newest) = new.last() {
            last = newest.id;
        }
        print_entries(&new, args.json, false);
    }
}

fn filters(args: &AuditArgs) -> String {
    let encode = |text: &str| -> String { oauth2::url::form_urlencoded::byte_serialize(text.as_bytes()).collect() };
    let mut query = String::new();
    if let Some(action) = &args.action {
        query.push_str(&format!("&action={}", encode(action)));
    }
    if let Some(principal) = &args.principal {
        query.push_str(&format!("&principal={}", encode(principal)));
    }
    query
}

fn print_entries(entries: &[AuditEntry], json: bool, header: bool) {
    if json {
        for entry in entries {
            println!("{}", serde_json::to_string(entry).unwrap_or_default());
        }
        return;
    }
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|entry| {
            [
                age(entry.at),
                entry.principal.clone(),
                entry.action.clone(),
                entry.target.clone().unwrap_or_default(),
                serde_json::to_value(entry.outcome)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default(),
                entry.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let rows: Vec<[&str; 6]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
    if rows.is_empty() && !header {
        return;
    }
    let text = table(["WHEN", "WHO", "ACTION", "TARGET", "OUTCOME", "DETAIL"], &rows);
    // Followed entries come without the header line again.
    let text = if header { text.as_str() } else { text.split_once('\n').map_or("", |(_, rest)| rest) };
    print!("{text}");
}
