//! `luna`: the start-up sequence. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use luna::cli::{self, Cli, Command, EXIT_UNAVAILABLE, EXIT_USAGE};
use luna::server::StartError;
use luna::settings::{ProcessEnv, Settings};

/// jemalloc rather than glibc's malloc: the gateway allocates and frees small buffers on every
/// request from several threads (README, "Speed": the figures that chose it).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, None | Some(Command::Serve(_))) {
        luna::sys::end_quietly_on_closed_pipe();
        return cli::run_client(&cli);
    }

    // Before any file exists: everything Luna writes (state, database, logs) is the owner's alone.
    luna::sys::create_owner_only_files();
    let settings = match Settings::load(&cli.flags(), &ProcessEnv) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("luna: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    luna::logging::init(settings.log.format, &settings.log.level);
    // One crypto provider for the HTTPS listener, ACME and outgoing HTTPS: ring (SPEC §4).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing::info!(home = %settings.home.root().display(), config = %settings.config_file.display(), "starting luna {}", env!("CARGO_PKG_VERSION"));

    match luna::server::LunaServer::build(settings) {
        Ok(server) => {
            server.run();
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("luna: {error}");
            ExitCode::from(match error {
                StartError::Config(_) => EXIT_USAGE,
                StartError::Unavailable(_) => EXIT_UNAVAILABLE,
            })
        }
    }
}
