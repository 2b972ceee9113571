//! The command line: `luna serve` (the default), `luna token`, and the commands that talk
//! to a running Luna through its API socket.

mod audit;
mod certs;
mod client;
mod clients;
mod doctor;
mod ext;
mod infra;
mod keys;
mod output;
mod service;
mod sessions;
mod setup;
mod status;
mod store;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::settings::{Flags, ProcessEnv, resolve_home};

pub use client::{ApiClient, ClientError};

/// Exit code for invalid settings or arguments (EX_USAGE).
pub const EXIT_USAGE: u8 = 64;
/// Exit code when Luna cannot start for a reason outside the settings (EX_UNAVAILABLE).
pub const EXIT_UNAVAILABLE: u8 = 69;

#[derive(Debug, Parser)]
#[command(name = "luna", version, about = "Luna: your self-hosted AI hub gateway")]
pub struct Cli {
    /// Installation directory [env: LUNA_HOME] [default: current directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Settings file [env: LUNA_CONFIG] [default: <home>/config/luna.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format: text or json [env: LUNA_LOG_FORMAT]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Luna in the foreground (the default command)
    Serve(ServeArgs),
    /// Show what a running Luna is doing
    Status(OutputArgs),
    /// Extension processes: list, start, stop, restart, logs, troubleshoot
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Extensions: list, enable, disable, install, update, remove
    #[command(subcommand)]
    Ext(ext::ExtCommand),
    /// The Key Manager: keys in .env for extensions (list, set, delete, import)
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Login sessions: list, revoke
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// Extension tools: list, enable or disable in MCP
    #[command(subcommand)]
    Tools(tools::ToolsCommand),
    /// Print the bearer token for local MCP clients (MCP_AUTH_TOKEN)
    Token {
        /// The Prometheus scraper's bearer token for /metrics instead (LUNA_METRICS_TOKEN)
        #[arg(long, conflicts_with = "agent")]
        metrics: bool,
        /// The Agent API's key instead (AGENT_API_KEY), for OpenAI clients
        #[arg(long)]
        agent: bool,
    },
    /// MCP clients connected through OAuth: list, revoke
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// The audit log: who did what (logins, changes, tool calls); --follow for new entries
    Audit(audit::AuditArgs),
    /// The HTTPS certificate: show, renew
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// External services (Docker): list, show, install, start, stop, restart, enable, disable, logs, uninstall
    #[command(subcommand)]
    Infra(infra::InfraCommand),
    /// Check what usually goes wrong (ports, DNS, GitHub app, certificate, Docker, disk, clock,
    /// file modes, extensions), each with advice; exits 1 when a check fails
    Doctor(OutputArgs),
    /// The Addon Store: search, show, install extensions and external services
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Write the settings a server needs (mode, domain, GitHub app, allow-list) and show the
    /// address and GitHub callback URL; works while Luna is stopped
    Setup(setup::SetupArgs),
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// The gateway's HTTP listener, e.g. 127.0.0.1:8800 [env: LUNA_HTTP_LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// The gateway's HTTPS listener in the public modes, e.g. 0.0.0.0:443 [env: LUNA_HTTPS_LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub https_listen: Option<String>,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print machine-readable JSON on stdout
    #[arg(long)]
    pub json: bool,
}

impl Cli {
    pub fn flags(&self) -> Flags {
        let (http_listen, https_listen) = match &self.command {
            Some(Command::Serve(args)) => (args.http_listen.clone(), args.https_listen.clone()),
            _ => (None, None),
        };
        Flags {
            home: self.home.clone(),
            config: self.config.clone(),
            http_listen,
            https_listen,
            log_format: self.log_format.clone(),
        }
    }
}

/// Where the installer puts Luna's home (`install/install.sh`).
const INSTALLED_HOME: &str = "/var/lib/luna";

/// The flags of a client command. Without `--home` or `LUNA_HOME`, outside a Luna home, the
/// installer's home is meant: `sudo luna doctor` works from any directory on a server.
fn client_flags(cli: &Cli) -> Flags {
    let mut flags = cli.flags();
    let installed = std::path::Path::new(INSTALLED_HOME);
    if flags.home.is_none()
        && std::env::var_os("LUNA_HOME").is_none()
        && !std::path::Path::new("config/luna.toml").exists()
        && installed.join("config/luna.toml").exists()
    {
        flags.home = Some(installed.to_path_buf());
    }
    flags
}

/// Runs a client command (anything but `serve`).
pub fn run_client(cli: &Cli) -> ExitCode {
    let flags = client_flags(cli);
    let home = match resolve_home(&flags, &ProcessEnv) {
        Ok(home) => home,
        Err(error) => {
            eprintln!("luna: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(Command::Token { metrics, agent }) = &cli.command {
        let key = match (metrics, agent) {
            (true, _) => crate::api::METRICS_TOKEN,
            (_, true) => crate::agent::AGENT_API_KEY,
            _ => "MCP_AUTH_TOKEN",
        };
        return match tools::print_token(&home, key) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("luna: {error}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Setup(args)) = &cli.command {
        return match setup::run(&flags, args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("luna: {error}");
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    let client = ApiClient::new(home.api_socket());
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("luna: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Doctor(output)) = &cli.command {
        return match runtime.block_on(doctor::run(&client, &flags)) {
            Ok(report) => {
                if output.json {
                    // A list of checks, each with a name and a status (SPEC §14); the exit code
                    // says whether one failed.
                    println!("{}", serde_json::to_string_pretty(&report.checks).unwrap_or_default());
                } else {
                    print!("{}", report.render());
                }
                if report.healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE }
            }
            Err(error) => {
                eprintln!("luna: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let result = runtime.block_on(async {
        match &cli.command {
            Some(Command::Status(output)) => status::run(&client, output.json).await,
            Some(Command::Service(command)) => service::run(&client, command).await,
            Some(Command::Ext(command)) => ext::run(&client, command).await,
            Some(Command::Keys(command)) => keys::run(&client, command).await,
            Some(Command::Sessions(command)) => sessions::run(&client, command).await,
            Some(Command::Tools(command)) => tools::run(&client, command).await,
            Some(Command::Clients(command)) => clients::run(&client, command).await,
            Some(Command::Audit(args)) => audit::run(&client, args).await,
            Some(Command::Certs(command)) => certs::run(&client, command).await,
            Some(Command::Infra(command)) => infra::run(&client, command).await,
            Some(Command::Store(command)) => store::run(&client, command).await,
            Some(Command::Serve(_) | Command::Token { .. } | Command::Setup(_) | Command::Doctor(_)) | None => {
                unreachable!("handled before")
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("luna: {error}");
            ExitCode::FAILURE
        }
    }
}
