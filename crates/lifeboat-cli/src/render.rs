//! Errors in the CLI's words: the message once, then what to do as a command line, and the
//! exit code (the table in README.md).

use crate::cli::Command;
use lifeboat_core::error::{Hint, EXIT_ERROR};
use lifeboat_ops::OpsError;

/// Exit code of a bad configuration file (sysexits' EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;

/// The command-line flag of a request option.
pub fn flag(option: &str) -> String {
    format!("--{}", option.replace('_', "-"))
}

/// What to do about `hint`, as the CLI says it.
pub fn hint_text(hint: &Hint, command: &Command) -> String {
    let text = match hint {
        Hint::SetOption { option, value } => {
            return match value {
                Some(v) => format!("use {} {v}", flag(option)),
                None => format!("pass {}", flag(option)),
            }
        }
        Hint::DropOption { option } => return format!("leave out {}", flag(option)),
        Hint::RunOperation { operation } => return format!("run `lifeboat {operation}`"),
        Hint::InitOrCheckLocation => {
            "create one with `lifeboat init`, or check -r/--repo (LIFEBOAT_REPOSITORY)"
        }
        Hint::CheckPassword => {
            "check LIFEBOAT_PASSWORD, --password-file or --password-command (or the repository's password_* key in the configuration file)"
        }
        Hint::WaitOrUnlock => {
            "wait for it to finish, or if that process is gone, run `lifeboat unlock`"
        }
        Hint::CheckReadData => "run `lifeboat check --read-data` to see what is affected",
        Hint::Check => "run `lifeboat check` to see what is damaged",
        Hint::ListSnapshots => "list them with `lifeboat snapshots`",
        Hint::LongerPrefix => "give more characters of the id",
        Hint::LeaveMode => {
            "switch back with `lifeboat mode normal` once the incident is over"
        }
        Hint::EmptyTargetOrOverwrite => match command {
            Command::Restore(_) => "choose an empty directory or pass --overwrite",
            _ => "choose an empty directory",
        },
        Hint::UseFullKey => "use a full key or the identity",
        Hint::WaitForRetention => "it can be removed after that",
        Hint::Retry => "run the command again",
        Hint::GiveRepository => {
            "pass -r/--repo LOCATION (or -r @NAME for a repository of the configuration file), or set LIFEBOAT_REPOSITORY"
        }
        Hint::GivePassword => {
            "set LIFEBOAT_PASSWORD, pass --password-file or --password-command, configure password_file for the repository, or run from a terminal to be asked"
        }
        Hint::InstallPostgres => {
            "install PostgreSQL's client programs or set LIFEBOAT_PG_BINDIR"
        }
        Hint::StopProcess { pid } => {
            return format!(
                "stop process {pid} (the application using the database) first, or restore to another --target"
            )
        }
    };
    text.to_string()
}

/// What to do about `e`, when its type carries guidance.
pub fn hint_of(e: &anyhow::Error) -> Option<Hint> {
    if let Some(ops) = e.downcast_ref::<OpsError>() {
        return ops.hint();
    }
    if let Some(core) = e.downcast_ref::<lifeboat_core::Error>() {
        return core.hint();
    }
    if let Some(pg) = e.downcast_ref::<lifeboat_postgres::PgError>() {
        return pg.hint();
    }
    None
}

/// Prints the hint about `e` on stderr, if there is one.
pub fn print_hint(command: &Command, e: &anyhow::Error) {
    if let Some(h) = hint_of(e) {
        eprintln!("hint: {}", hint_text(&h, command));
    }
}

/// Prints `e` on stderr and returns the exit code.
pub fn error(command: &Command, e: &anyhow::Error) -> i32 {
    eprintln!("error: {e:#}");
    print_hint(command, e);
    if let Some(ops) = e.downcast_ref::<OpsError>() {
        return ops.exit_code();
    }
    if let Some(core) = e.downcast_ref::<lifeboat_core::Error>() {
        return core.exit_code();
    }
    if let Some(pg) = e.downcast_ref::<lifeboat_postgres::PgError>() {
        // PgError::Core keeps the engine's exit code.
        return match pg {
            lifeboat_postgres::PgError::Core(c) => c.exit_code(),
            _ => EXIT_ERROR,
        };
    }
    if e.downcast_ref::<lifeboat_config::ConfigError>().is_some()
        || matches!(
            e.downcast_ref::<lifeboat_daemon::DaemonError>(),
            Some(lifeboat_daemon::DaemonError::Config(_))
        )
    {
        return EXIT_CONFIG;
    }
    if let Some(p) = e.downcast_ref::<lifeboat_config::PasswordError>() {
        let _ = p;
        return EXIT_ERROR;
    }
    EXIT_ERROR
}
