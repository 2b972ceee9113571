//! tracing setup: human-readable lines by default, one JSON object per line with
//! `--log-format json`. pingora logs through the `log` crate, which tracing-subscriber
//! bridges, so both land in the same stream.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// pingora reports every listener and runtime at `info`; that is noise for a Luna user.
const QUIET_DEPENDENCIES: &str = "pingora_core=warn,pingora_proxy=warn";

/// Installs the global subscriber. `level` was validated with the settings.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(format!("{QUIET_DEPENDENCIES},{level}")).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// An error's message plus its causes, for messages people read (reqwest's "error sending
/// request" alone says nothing).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
