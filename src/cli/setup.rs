//! `luna setup`: writes the settings a server needs (the installer's answers) and shows where
//! Luna will be reached. Works without a running Luna; `luna serve` (or a restart of the
//! service) picks the settings up.

use clap::Args;

use crate::settings::setup::{Answers, Outcome, SetupError, apply};
use crate::settings::{Flags, ProcessEnv};

#[derive(Debug, Default, Args)]
pub struct SetupArgs {
    /// local, lan, nip_io or custom_domain (deployment_mode)
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// The domain of custom_domain (public_domain); its DNS must point at this machine
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
    /// The public IPv4 address of nip_io (public_ip); detected when not given
    #[arg(long, value_name = "IP")]
    pub public_ip: Option<String>,
    /// GitHub users who may log in, comma-separated logins or ids (auth.allowed_users)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub allowed_users: Option<Vec<String>>,
    /// GitHub organizations whose members may log in (auth.allowed_orgs)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub allowed_orgs: Option<Vec<String>>,
    /// Who of them may change Luna (auth.admins)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub admins: Option<Vec<String>>,
    /// Where the certificate authority writes about expiry (acme.email)
    #[arg(long, value_name = "ADDRESS")]
    pub acme_email: Option<String>,
    /// Another ACME directory: "staging", or a private CA's URL (acme.directory_url)
    #[arg(long, value_name = "URL")]
    pub acme_directory_url: Option<String>,
    /// The GitHub OAuth app's client id (GITHUB_CLIENT_ID in .env). Its secret is read from
    /// the environment variable GITHUB_CLIENT_SECRET, never from the command line.
    #[arg(long, value_name = "ID")]
    pub github_client_id: Option<String>,
    /// Print machine-readable JSON on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(flags: &Flags, args: &SetupArgs) -> Result<(), SetupError> {
    let answers = Answers {
        deployment_mode: args.mode.clone(),
        public_domain: args.domain.clone(),
        public_ip: args.public_ip.clone(),
        allowed_users: args.allowed_users.clone(),
        allowed_orgs: args.allowed_orgs.clone(),
        admins: args.admins.clone(),
        acme_email: args.acme_email.clone(),
        acme_directory_url: args.acme_directory_url.clone(),
        github_client_id: args.github_client_id.clone(),
        github_client_secret: std::env::var("GITHUB_CLIENT_SECRET").ok().filter(|secret| !secret.trim().is_empty()),
    };
    let outcome = apply(flags, &ProcessEnv, &answers)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome).unwrap_or_default());
    } else {
        print!("{}", describe(&outcome));
    }
    Ok(())
}

fn describe(outcome: &Outcome) -> String {
    let mut text = format!(
        "settings: {} ({} mode)\naddress:  {}\n",
        outcome.config_file, outcome.deployment_mode, outcome.public_url
    );
    let github = if outcome.github_configured { "set" } else { "not set yet" };
    text.push_str(&format!(
        "GitHub login ({github}): the OAuth app's Authorization callback URL must be {}\n",
        outcome.github_callback_url
    ));
    text
}
