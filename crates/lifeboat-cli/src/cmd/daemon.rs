//! `lifeboat daemon`: run the daemon (schedules, API, metrics, dashboard) in the foreground;
//! `lifeboat daemon token add NAME --role ROLE`: make an API token.

use crate::output;
use crate::session::Session;
use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use lifeboat_config::Role;
use lifeboat_core::error::EXIT_OK;
use std::path::PathBuf;

/// `lifeboat daemon ...`.
#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// The state directory (default: LIFEBOAT_STATE_DIR, the configuration's [daemon]
    /// state_dir, /var/lib/lifeboat)
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<DaemonCommand>,
}

/// `lifeboat daemon token ...`.
#[derive(Subcommand, Debug)]
pub enum DaemonCommand {
    /// API tokens
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `lifeboat daemon token add`.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a new token: print it once, with the [daemon.tokens.NAME] lines to paste
    Add {
        /// The token's name (recorded as who acted)
        name: String,
        /// read, operator or admin
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Print {"name", "role", "token", "hash"}
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> std::result::Result<Role, String> {
    s.parse()
}

/// Runs `lifeboat daemon ...`.
pub fn run(s: &Session, a: &DaemonArgs) -> Result<i32> {
    match &a.command {
        Some(DaemonCommand::Token(TokenCommand::Add { name, role, json })) => {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            {
                return Err(anyhow!(
                    "token name '{name}' must be letters, digits, '-' and '_' (it becomes [daemon.tokens.{name}])"
                ));
            }
            let token = lifeboat_daemon::auth::new_token();
            let hash = lifeboat_daemon::auth::hash_token(&token);
            if *json {
                output::json(&serde_json::json!({
                    "name": name, "role": role.name(), "token": token, "hash": hash,
                }));
            } else {
                println!(
                    "token (shown once; give it to the client as Authorization: Bearer TOKEN):"
                );
                println!("  {token}");
                println!();
                println!("add to the configuration file, then reload the daemon (SIGHUP):");
                println!("[daemon.tokens.{name}]");
                println!("role = \"{}\"", role.name());
                println!("hash = \"{hash}\"");
            }
            Ok(EXIT_OK)
        }
        None => {
            let config_path = lifeboat_config::locate(s.config_path()).ok_or_else(|| {
                anyhow!("the daemon needs a configuration file: pass --config FILE, set LIFEBOAT_CONFIG, or create /etc/lifeboat/lifeboat.toml")
            })?;
            lifeboat_daemon::run(lifeboat_daemon::Options {
                config_path,
                state_dir: a.state_dir.clone(),
            })?;
            Ok(EXIT_OK)
        }
    }
}
