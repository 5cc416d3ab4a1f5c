//! The command line: global options and the list of commands. Each command's own arguments
//! live with it in `cmd/`.

use crate::cmd;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Help for `-r/--repo`: every location form.
const REPO_HELP: &str = "Repository: a path or local:PATH; s3:https://HOST[:PORT]/BUCKET[/PREFIX] \
(path-style, TLS), s3:http://127.0.0.1:PORT/BUCKET[/PREFIX] (plain HTTP, local services), \
s3:HOST/BUCKET[/PREFIX], s3://BUCKET[/PREFIX] (endpoint from LIFEBOAT_S3_ENDPOINT, else AWS); \
or @NAME for a repository of the configuration file";

#[derive(Parser, Debug)]
#[command(
    name = "lifeboat",
    version,
    about = "Deduplicated, encrypted, verifiable backups and restores",
    after_help = "Exit codes: 0 ok, 1 error, 3 backup saved but some files unreadable, \
10 not a repository, 11 locked, 12 wrong password, 13 refused by the repository mode, \
78 bad configuration, 130 cancelled."
)]
pub struct Cli {
    #[arg(short = 'r', long = "repo", env = "LIFEBOAT_REPOSITORY", global = true, help = REPO_HELP)]
    pub repo: Option<String>,
    /// Read the repository password from this file
    #[arg(long, env = "LIFEBOAT_PASSWORD_FILE", global = true)]
    pub password_file: Option<PathBuf>,
    /// Run this shell command and use its output as the password
    #[arg(long, env = "LIFEBOAT_PASSWORD_COMMAND", global = true)]
    pub password_command: Option<String>,
    /// Configuration file (default: LIFEBOAT_CONFIG, else /etc/lifeboat/lifeboat.toml when it exists)
    #[arg(long, env = "LIFEBOAT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Only print errors and results
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new repository
    Init(cmd::init::InitArgs),
    /// Back up files, standard input, a command's output, a configured source, or PostgreSQL
    /// (`lifeboat backup postgres`)
    Backup(Box<cmd::backup::BackupArgs>),
    /// List snapshots
    Snapshots(cmd::snapshots::SnapshotsArgs),
    /// List the files in a snapshot
    Ls(cmd::ls::LsArgs),
    /// Show what changed between two snapshots (added, removed, changed files and metadata)
    Diff(cmd::diff::DiffArgs),
    /// Find which snapshots hold files matching a pattern
    Find(cmd::find::FindArgs),
    /// Change snapshots' tags (--add, --remove, --set): each becomes a retagged copy
    Tag(cmd::tag::TagArgs),
    /// Remove files from existing snapshots (--exclude), e.g. for a deletion request
    Rewrite(cmd::rewrite::RewriteArgs),
    /// Restore a snapshot into a directory, or PostgreSQL (`lifeboat restore postgres`)
    Restore(Box<cmd::restore::RestoreArgs>),
    /// Write one file or a stream snapshot to standard output
    Dump(cmd::dump::DumpArgs),
    /// Verify the repository's structure and (optionally) all data
    Check(cmd::check::CheckArgs),
    /// Remove snapshots according to a retention policy
    Forget(cmd::forget::ForgetArgs),
    /// Remove data no snapshot references (and WAL no kept base backup needs)
    Prune(cmd::prune::PruneArgs),
    /// Show repository statistics
    Stats(cmd::JsonArg),
    /// Manage the repository's keys (passwords)
    #[command(subcommand)]
    Key(cmd::key::KeyCommand),
    /// Remove stale locks
    Unlock(cmd::unlock::UnlockArgs),
    /// Archive one WAL file (PostgreSQL's archive_command = 'lifeboat wal-push %p')
    WalPush(cmd::wal::WalPushArgs),
    /// Fetch one archived WAL file (PostgreSQL's restore_command = 'lifeboat wal-fetch %f %p')
    WalFetch(cmd::wal::WalFetchArgs),
    /// Inspect, verify and expire the PostgreSQL WAL archive
    #[command(subcommand)]
    Wal(cmd::wal::WalCommand),
    /// Copy snapshots (and the data they reference) into another repository
    Copy(cmd::copy::CopyArgs),
    /// List the tamper-evident journal, verify its hash chain, or print its head
    Journal(cmd::journal::JournalArgs),
    /// Show or set the repository mode (normal, degraded, read-only)
    Mode(cmd::mode::ModeArgs),
    /// Check the configuration file
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Restore drills: prove a backup restores, check the application's invariants, measure
    /// RTO and RPO
    #[command(subcommand)]
    Drill(cmd::drill::DrillCommand),
    /// Restore points: one named, consistent set of backups across sources
    #[command(subcommand)]
    RestorePoint(cmd::restore_point::RestorePointCommand),
    /// Application crash detection: record starts and clean stops, say whether the last run
    /// crashed (exit 5) and name the newest restore point
    #[command(subcommand)]
    App(cmd::app::AppCommand),
    /// The daemon: schedules, an authenticated HTTP API, metrics, notifications and a
    /// dashboard (foreground; `daemon token add` makes API tokens)
    Daemon(cmd::daemon::DaemonArgs),
}
