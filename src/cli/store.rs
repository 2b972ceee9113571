//! `luna store search|show|install`: the Addon Store.

use clap::{Args, Subcommand};

use super::output::{print_json, table};
use super::{ApiClient, ClientError, OutputArgs};
use crate::app::{AddonDetail, StoreInstalled, StoreListing};
use crate::store::{AddonType, RegistryState};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Search the catalog (everything without words); filters combine
    Search(SearchArgs),
    /// One addon: what it needs, provides and offers, its source
    Show {
        id: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Install an addon: an extension from its pinned source, a service with its form values
    Install {
        id: String,
        /// A service's form value, e.g. --set port=5433 (repeat for more)
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        values: Vec<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find in names, descriptions, tags, dependencies and provided variables
    words: Vec<String>,
    /// extension or external_service
    #[arg(long = "type", value_name = "TYPE")]
    addon_type: Option<String>,
    #[arg(long)]
    category: Option<String>,
    /// Only addons with a web UI
    #[arg(long)]
    has_ui: bool,
    /// Only addons that depend on nothing
    #[arg(long)]
    no_dependencies: bool,
    /// Only installed addons
    #[arg(long, conflicts_with = "not_installed")]
    installed: bool,
    /// Only addons not installed yet
    #[arg(long)]
    not_installed: bool,
    /// Only addons that need no keys
    #[arg(long)]
    no_secrets: bool,
    /// name, name_desc, recent or category
    #[arg(long)]
    sort: Option<String>,
    /// Fetch every registry now
    #[arg(long)]
    refresh: bool,
    #[command(flatten)]
    output: OutputArgs,
}

pub async fn run(client: &ApiClient, command: &StoreCommand) -> Result<(), ClientError> {
    match command {
        StoreCommand::Search(args) => search(client, args).await,
        StoreCommand::Show { id, output } => {
            let detail: AddonDetail = client.get(&format!("/api/addons/{}", encode(id))).await?;
            if output.json {
                return print_json(&detail);
            }
            print!("{}", describe(&detail));
            Ok(())
        }
        StoreCommand::Install { id, values, output } => {
            let path = format!("/api/addons/{}/install", encode(id));
            match super::ext::follow_install::<StoreInstalled>(client, &path, &serde_json::json!({})).await? {
                StoreInstalled::Extension { installed } => super::ext::report(&installed, output.json),
                StoreInstalled::Service { service } => super::infra::install(client, &service, values, output).await,
            }
        }
    }
}

async fn search(client: &ApiClient, args: &SearchArgs) -> Result<(), ClientError> {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let words = args.words.join(" ");
    let flag = |on: bool| on.then_some("true");
    let installed = match (args.installed, args.not_installed) {
        (true, _) => Some("true"),
        (_, true) => Some("false"),
        _ => None,
    };
    let pairs = [
        ("q", (!words.is_empty()).then_some(words.as_str())),
        ("type", args.addon_type.as_deref()),
        ("category", args.category.as_deref()),
        ("has_ui", flag(args.has_ui)),
        ("no_dependencies", flag(args.no_dependencies)),
        ("installed", installed),
        ("no_secrets", flag(args.no_secrets)),
        ("sort", args.sort.as_deref()),
        ("refresh", flag(args.refresh)),
    ];
    for (key, value) in pairs {
        if let Some(value) = value {
            query.append_pair(key, value);
        }
    }
    let listing: StoreListing = client.get(&format!("/api/addons?{}", query.finish())).await?;
    if args.output.json {
        // The addons found, a list (SPEC §14); what registries left out goes to stderr below.
        print_json(&listing.addons)?;
        report_registries(&listing);
        return Ok(());
    }
    let rows: Vec<[String; 5]> = listing
        .addons
        .iter()
        .map(|listed| {
            let addon = &listed.addon;
            let kind = match addon.addon_type {
                AddonType::Extension => "extension",
                AddonType::ExternalService => "service",
            };
            let state = if listed.installed { "installed" } else { "" };
            [addon.id.clone(), kind.into(), addon.category.clone(), state.into(), addon.description.clone()]
        })
        .collect();
    let rows: Vec<[&str; 5]> = rows.iter().map(|row| row.each_ref().map(String::as_str)).collect();
    print!("{}", table(["ID", "TYPE", "CATEGORY", "STATE", "DESCRIPTION"], &rows));
    println!("{} of {}", listing.addons.len(), listing.total);
    report_registries(&listing);
    Ok(())
}

/// Registries unreachable now, and entries left out, on stderr.
fn report_registries(listing: &StoreListing) {
    for registry in listing.registries.iter().filter(|registry| registry.state != RegistryState::Ok) {
        let error = registry.error.as_deref().unwrap_or("unreachable");
        match registry.state {
            RegistryState::Stale => eprintln!("{}: unreachable ({error}); showing its copy of before", registry.url),
            _ => eprintln!("{}: unreachable ({error}); nothing of it is shown", registry.url),
        }
    }
    for problem in &listing.problems {
        let field =
            if problem.problem.field.is_empty() { String::new() } else { format!(" `{}`", problem.problem.field) };
        eprintln!("{}: {}{field}: {} (left out)", problem.registry, problem.problem.entry, problem.problem.reason);
    }
}

fn describe(detail: &AddonDetail) -> String {
    let addon = &detail.addon.addon;
    let mut text =
        format!("{} ({}), {} by {}\n{}\n", addon.name, addon.id, addon.version, addon.author, addon.description);
    let list = |items: &[String]| if items.is_empty() { "none".to_string() } else { items.join(", ") };
    text.push_str(&format!("  category:  {}\n  from:      {}\n", addon.category, detail.addon.registry));
    if detail.addon.installed {
        text.push_str("  installed\n");
    }
    match addon.addon_type {
        AddonType::Extension => {
            text.push_str(&format!(
                "  tools:     {}, services: {}, UI: {}\n",
                addon.tool_count,
                addon.service_count,
                if addon.has_ui { "yes" } else { "no" }
            ));
            text.push_str(&format!("  keys:      {}\n", list(&addon.required_secrets)));
        }
        AddonType::ExternalService => text.push_str(&format!("  provides:  {}\n", list(&addon.provides_vars))),
    }
    for dependency in &detail.dependency_status {
        let state = if dependency.installed {
            "installed"
        } else if dependency.name.is_some() {
            "in the store"
        } else {
            "not in the store"
        };
        text.push_str(&format!("  works with {} ({state})\n", dependency.name.as_deref().unwrap_or(&dependency.id)));
    }
    for tool in &addon.tools {
        text.push_str(&format!("  tool {}: {}\n", tool.name, tool.description));
    }
    if let Some(url) = &detail.source_url {
        text.push_str(&format!("  source:    {url}\n"));
    }
    text
}

fn encode(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
