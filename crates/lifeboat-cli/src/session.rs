//! One invocation's state: the global options, the configuration file (read when needed),
//! the operations context, and how repositories and passwords are found.
//!
//! A repository is named by `-r/--repo` (`LIFEBOAT_REPOSITORY`): a location, or `@NAME` for a
//! repository of the configuration file. Without it, a configuration file with exactly one
//! repository names that one. Its password comes from, in order: `LIFEBOAT_PASSWORD`,
//! `--password-file`, `--password-command`, the configured repository's password source, and
//! finally a prompt when standard input is a terminal.

use anyhow::{anyhow, Context as _, Result};
use lifeboat_config::{Config, PasswordSource, RepositoryConfig};
use lifeboat_core::Repository;
use lifeboat_ops::{Context, Location, OpsError};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cli::Cli;

/// A repository as named on the command line, resolved.
pub struct Named {
    /// Where it is.
    pub location: Location,
    /// Its configured password source, if any.
    pub password: Option<PasswordSource>,
}

/// The state of one invocation.
pub struct Session {
    /// `-r/--repo`.
    pub repo: Option<String>,
    password_file: Option<PathBuf>,
    password_command: Option<String>,
    config_path: Option<PathBuf>,
    config: OnceLock<Option<Config>>,
    /// `-q`.
    pub quiet: bool,
    /// The operations context (actor: the operating-system user).
    pub ctx: Context,
}

impl Session {
    /// The session of `cli`.
    pub fn new(cli: &Cli) -> Result<Session> {
        Ok(Session {
            repo: cli.repo.clone().filter(|r| !r.is_empty()),
            password_file: cli.password_file.clone(),
            password_command: cli.password_command.clone(),
            config_path: cli.config.clone(),
            config: OnceLock::new(),
            quiet: cli.quiet,
            ctx: Context::cli(),
        })
    }

    /// Stops the running operation at SIGINT or SIGTERM (a second signal exits at once).
    pub fn cancel_on_signals(&self) {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let token = self.ctx.cancel_token().clone();
        std::thread::spawn(move || {
            let mut seen = 0;
            for _ in signals.forever() {
                seen += 1;
                if seen > 1 {
                    std::process::exit(lifeboat_core::error::EXIT_CANCELLED);
                }
                eprintln!(
                    "stopping: finishing the current step (press Ctrl-C again to quit at once)"
                );
                token.cancel();
            }
        });
    }

    /// `--config` as given.
    pub fn config_path(&self) -> Option<&std::path::Path> {
        self.config_path.as_deref()
    }

    /// True when progress may be drawn on stderr.
    pub fn show_progress(&self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }

    /// The configuration file, when one was given or exists at the default place.
    pub fn config(&self) -> Result<Option<&Config>> {
        if let Some(c) = self.config.get() {
            return Ok(c.as_ref());
        }
        let loaded = match lifeboat_config::locate(self.config_path.as_deref()) {
            Some(path) => Some(Config::load(&path)?),
            None => None,
        };
        Ok(self.config.get_or_init(|| loaded).as_ref())
    }

    /// The configuration file, which this command needs.
    pub fn require_config(&self, why: &str) -> Result<&Config> {
        self.config()?.ok_or_else(|| {
            anyhow!("{why} needs a configuration file: pass --config FILE, set LIFEBOAT_CONFIG, or create /etc/lifeboat/lifeboat.toml")
        })
    }

    /// Resolves `spec` (a location or `@NAME`).
    pub fn named(&self, spec: &str) -> Result<Named> {
        match spec.strip_prefix('@') {
            Some(name) => {
                let config = self.require_config(&format!("the repository name @{name}"))?;
                let r = config.repository(name)?;
                configured(r)
            }
            None => Ok(Named {
                location: Location::url(spec),
                password: None,
            }),
        }
    }

    /// The repository this command works on: `-r`, else the configuration's only repository.
    pub fn target(&self) -> Result<Named> {
        if let Some(r) = &self.repo {
            return self.named(r);
        }
        if let Some(config) = self.config()? {
            if config.repositories.len() == 1 {
                let r = config.repositories.values().next().expect("one");
                return configured(r);
            }
        }
        Err(OpsError::NoRepository.into())
    }

    /// The password for `named`: flags and environment first, then its configured source,
    /// then a prompt on a terminal (`confirm`: asked twice, for new passwords).
    pub fn password(&self, named: &Named, confirm: bool) -> Result<Vec<u8>> {
        let source = PasswordSource::from_cli_and_env(
            self.password_file.clone(),
            self.password_command.clone(),
        )
        .or_else(|| named.password.clone());
        match source {
            Some(s) => Ok(s.read()?),
            None => prompt(&named.location.display(), confirm)?.ok_or_else(|| {
                OpsError::NoPassword {
                    location: named.location.display(),
                }
                .into()
            }),
        }
    }

    /// Opens the command's repository.
    pub fn open(&self) -> Result<Repository> {
        let named = self.target()?;
        let password = self.password(&named, false)?;
        Ok(lifeboat_ops::open::open(&named.location, &password)?)
    }

    /// The command's repository location and password, for operations that open it
    /// themselves (`init`, `wal-push`, `wal-fetch`).
    pub fn location_and_password(&self, confirm: bool) -> Result<(Named, Vec<u8>)> {
        let named = self.target()?;
        let password = self.password(&named, confirm)?;
        Ok((named, password))
    }

    /// The password source options as given on the command line, for commands that write
    /// them into files (a restored server's restore_command).
    pub fn password_flags(&self) -> (Option<&PathBuf>, Option<&String>) {
        (self.password_file.as_ref(), self.password_command.as_ref())
    }
}

/// A configured repository as a [`Named`].
pub fn configured(r: &RepositoryConfig) -> Result<Named> {
    Ok(Named {
        location: lifeboat_ops::sources::location(r)?,
        password: r.password_source(),
    })
}

/// Asks for a password on the terminal; `None` when standard input is not one.
pub fn prompt(what: &str, confirm: bool) -> Result<Option<Vec<u8>>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let first = rpassword::prompt_password(format!("password for {what}: "))
        .context("reading the password from the terminal")?;
    if confirm {
        let again = rpassword::prompt_password("enter it again: ")
            .context("reading the password from the terminal")?;
        if again != first {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
    }
    Ok(Some(first.into_bytes()))
}
