//! `lifeboat`: the command-line front end. It parses arguments, reads passwords, shows progress
//! and prints results; all work is done by `lifeboat-core`.

mod copy_cmd;
mod journal_cmd;
mod output;
mod postgres_cmd;
mod writeonly_cmd;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lifeboat_core::backup::{self, BackupOptions, Progress};
use lifeboat_core::check::{self, CheckOptions};
use lifeboat_core::config::Config;
use lifeboat_core::forget::{self, KeepPolicy};
use lifeboat_core::prune::{self, PruneOptions};
use lifeboat_core::restore::{self, RestoreOptions};
use lifeboat_core::{Error, Repository};
use output::{human_bytes, ProgressDisplay};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Exit code when a backup completed but skipped unreadable files.
const EXIT_PARTIAL: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "lifeboat",
    version,
    about = "Deduplicated, encrypted, verifiable backups and restores"
)]
struct Cli {
    /// Repository location (a path, or local:PATH)
    #[arg(
        short = 'r',
        long = "repo",
        env = "LIFEBOAT_REPOSITORY",
        global = true,
        default_value = ""
    )]
    repo: String,
    /// Read the repository password from this file
    #[arg(long, env = "LIFEBOAT_PASSWORD_FILE", global = true)]
    password_file: Option<PathBuf>,
    /// Run this shell command and use its output as the password
    #[arg(long, env = "LIFEBOAT_PASSWORD_COMMAND", global = true)]
    password_command: Option<String>,
    /// Only print errors and results
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new repository
    Init(InitArgs),
    /// Back up files, directories, standard input or a command's output
    Backup(BackupArgs),
    /// List snapshots
    Snapshots(SnapshotsArgs),
    /// List the files in a snapshot
    Ls(LsArgs),
    /// Restore a snapshot into a directory
    Restore(RestoreArgs),
    /// Write one file or a stream snapshot to standard output
    Dump(DumpArgs),
    /// Verify the repository's structure and (optionally) all data
    Check(CheckArgs),
    /// Remove snapshots according to a retention policy
    Forget(ForgetArgs),
    /// Remove data no snapshot references
    Prune(PruneArgs),
    /// Show repository statistics
    Stats(JsonArg),
    /// Manage the repository's keys (passwords)
    #[command(subcommand)]
    Key(KeyCommand),
    /// Remove stale locks
    Unlock(UnlockArgs),
    /// Back up PostgreSQL: logical dumps or physical base backups (`lifeboat backup postgres`)
    BackupPostgres(postgres_cmd::PgBackupArgs),
    /// Restore PostgreSQL: logical dumps or point-in-time (`lifeboat restore postgres`)
    RestorePostgres(Box<postgres_cmd::PgRestoreArgs>),
    /// Archive one WAL file (PostgreSQL's archive_command = 'lifeboat wal-push %p')
    WalPush(postgres_cmd::WalPushArgs),
    /// Fetch one archived WAL file (PostgreSQL's restore_command = 'lifeboat wal-fetch %f %p')
    WalFetch(postgres_cmd::WalFetchArgs),
    /// Inspect, verify and expire the PostgreSQL WAL archive
    #[command(subcommand)]
    Wal(postgres_cmd::WalCommand),
    /// Copy snapshots (and the data they reference) into another repository
    Copy(copy_cmd::CopyArgs),
    /// List the tamper-evident journal, verify its hash chain, or print its head
    Journal(journal_cmd::JournalArgs),
    /// Show or set the repository mode (read-only freezes it during an incident)
    Mode(journal_cmd::ModeArgs),
}

#[derive(Args, Debug)]
struct JsonArg {
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct InitArgs {
    /// Minimum chunk size in KiB
    #[arg(long, default_value_t = 32)]
    chunk_min_kib: u32,
    /// Average chunk size in KiB
    #[arg(long, default_value_t = 128)]
    chunk_avg_kib: u32,
    /// Maximum chunk size in KiB
    #[arg(long, default_value_t = 512)]
    chunk_max_kib: u32,
    /// zstd compression level (0 = off)
    #[arg(long, default_value_t = 3)]
    compression: i32,
    /// Target pack size in MiB
    #[arg(long, default_value_t = 16)]
    pack_size_mib: u32,
    /// Do not train a compression dictionary from the first backup's data (by default new data
    /// blobs are compressed with 16 KiB of history picked from the repository's own data)
    #[arg(long)]
    no_compression_dictionary: bool,
    /// Give every object S3 Object Lock retention: MODE:DAYS (COMPLIANCE or GOVERNANCE)
    #[arg(long, value_name = "MODE:DAYS")]
    object_lock: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BackupArgs {
    /// Files and directories to back up
    paths: Vec<PathBuf>,
    /// Tag the snapshot (repeatable)
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Hostname to record
    #[arg(long)]
    host: Option<String>,
    /// Exclude paths matching a glob (a pattern without '/' matches names) (repeatable)
    #[arg(long = "exclude")]
    excludes: Vec<String>,
    /// Stay on the filesystem of each given path
    #[arg(short = 'x', long)]
    one_file_system: bool,
    /// Parent snapshot for change detection (default: latest with the same host and paths)
    #[arg(long)]
    parent: Option<String>,
    /// Re-read every file
    #[arg(long)]
    force: bool,
    /// Back up standard input
    #[arg(long)]
    stdin: bool,
    /// File name for the stream
    #[arg(long)]
    stdin_name: Option<String>,
    /// Back up the standard output of the command given after --
    #[arg(long)]
    stdin_from_command: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// The command for --stdin-from-command
    #[arg(last = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
struct SnapshotsArgs {
    /// Only snapshots with this tag (repeatable; any matches)
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Only snapshots of this host
    #[arg(long)]
    host: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct LsArgs {
    /// Snapshot id, unique prefix or `latest`
    snapshot: String,
    /// Only list below this path
    path: Option<String>,
    /// Print JSON lines
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RestoreArgs {
    /// Snapshot id, unique prefix or `latest`
    snapshot: String,
    /// Directory to restore into
    #[arg(short, long)]
    target: PathBuf,
    /// Only restore this path (repeatable)
    #[arg(long = "include")]
    includes: Vec<String>,
    /// Allow restoring into a non-empty directory
    #[arg(long)]
    overwrite: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct DumpArgs {
    /// Snapshot id, unique prefix or `latest`
    snapshot: String,
    /// File inside the snapshot (optional for stream snapshots)
    path: Option<String>,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Decrypt and verify every blob
    #[arg(long, conflicts_with = "read_data_subset")]
    read_data: bool,
    /// Decrypt and verify a random PERCENT of packs (e.g. 10 or 10%)
    #[arg(long, value_name = "PERCENT")]
    read_data_subset: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ForgetArgs {
    /// Snapshots to forget explicitly
    snapshots: Vec<String>,
    /// Keep the N newest snapshots
    #[arg(long)]
    keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the last N hours
    #[arg(long)]
    keep_hourly: Option<u32>,
    /// Keep the newest snapshot of each of the last N days
    #[arg(long)]
    keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the last N weeks
    #[arg(long)]
    keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the last N months
    #[arg(long)]
    keep_monthly: Option<u32>,
    /// Keep the newest snapshot of each of the last N years
    #[arg(long)]
    keep_yearly: Option<u32>,
    /// Keep snapshots newer than DURATION before the newest (e.g. 7d, 2w, 1y6m)
    #[arg(long)]
    keep_within: Option<String>,
    /// Only consider snapshots with this tag
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Only consider snapshots of this host
    #[arg(long)]
    host: Option<String>,
    /// Show what would be removed
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Run prune afterwards
    #[arg(long)]
    prune: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct PruneArgs {
    /// Show what would be removed
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// Add a key (new password from --new-password-file or LIFEBOAT_NEW_PASSWORD)
    Add(writeonly_cmd::AddKeyArgs),
    /// List keys
    List(JsonArg),
    /// Remove a key by id or unique prefix
    Remove {
        /// Key id or prefix
        id: String,
    },
    /// Change the password of the key in use
    Passwd(NewPassword),
}

#[derive(Args, Debug)]
struct NewPassword {
    /// Read the new password from this file
    #[arg(long, env = "LIFEBOAT_NEW_PASSWORD_FILE")]
    new_password_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct UnlockArgs {
    /// Remove every lock, not only stale ones
    #[arg(long)]
    remove_all: bool,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    let cli = Cli::parse_from(postgres_cmd::rewrite_args(std::env::args_os()));
    let journaled =
        journal_cmd::describe(&cli).or_else(|| postgres_cmd::journal_description(&cli.command));
    let result = run(cli);
    journal_cmd::finish(journaled, &result);
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            e.downcast_ref::<Error>().map(Error::exit_code).unwrap_or(1)
        }
    };
    std::process::exit(code);
}

fn read_password(cli: &Cli) -> Result<Vec<u8>> {
    if let Ok(p) = std::env::var("LIFEBOAT_PASSWORD") {
        return Ok(p.into_bytes());
    }
    if let Some(f) = &cli.password_file {
        let s =
            std::fs::read(f).with_context(|| format!("reading password file {}", f.display()))?;
        return Ok(trim_newline(s));
    }
    if let Some(cmd) = &cli.password_command {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("running password command `{cmd}`"))?;
        if !out.status.success() {
            bail!("password command `{cmd}` failed with {}", out.status);
        }
        return Ok(trim_newline(out.stdout));
    }
    bail!("no password given: set LIFEBOAT_PASSWORD, or pass --password-file or --password-command")
}

fn read_new_password(arg: &NewPassword) -> Result<Vec<u8>> {
    if let Ok(p) = std::env::var("LIFEBOAT_NEW_PASSWORD") {
        return Ok(p.into_bytes());
    }
    if let Some(f) = &arg.new_password_file {
        let s = std::fs::read(f)
            .with_context(|| format!("reading new password file {}", f.display()))?;
        return Ok(trim_newline(s));
    }
    bail!("no new password given: set LIFEBOAT_NEW_PASSWORD or pass --new-password-file")
}

fn trim_newline(mut v: Vec<u8>) -> Vec<u8> {
    while v.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        v.pop();
    }
    v
}

fn open_repo(cli: &Cli) -> Result<Repository> {
    let storage = lifeboat_storage::choose::open(&cli.repo).map_err(Error::from)?;
    let password = read_password(cli)?;
    let repo = Repository::open(storage, &password)?;
    journal_cmd::remember(&repo);
    Ok(repo)
}

fn run(cli: Cli) -> Result<i32> {
    let show_progress = !cli.quiet && std::io::stderr().is_terminal();
    match &cli.command {
        Command::Init(a) => {
            let storage = lifeboat_storage::choose::open(&cli.repo).map_err(Error::from)?;
            let password = read_password(&cli)?;
            if password.is_empty() {
                bail!("refusing an empty password");
            }
            let mut config = Config::new();
            config.chunker.min_size = a.chunk_min_kib * 1024;
            config.chunker.avg_size = a.chunk_avg_kib * 1024;
            config.chunker.max_size = a.chunk_max_kib * 1024;
            if !(config.chunker.min_size < config.chunker.avg_size
                && config.chunker.avg_size < config.chunker.max_size)
            {
                bail!("chunk sizes must satisfy min < avg < max");
            }
            config.compression_level = a.compression;
            config.pack_size = a.pack_size_mib * 1024 * 1024;
            config.compression_dictionary = !a.no_compression_dictionary;
            config.object_lock = a
                .object_lock
                .as_deref()
                .map(lifeboat_core::retention_layer::parse_object_lock)
                .transpose()?;
            let repo = Repository::init(storage, &password, config)?;
            journal_cmd::remember(&repo);
            if a.json {
                output::json(
                    &serde_json::json!({"id": repo.config().id, "location": repo.storage().location()}),
                );
            } else {
                println!(
                    "created lifeboat repository {} at {}",
                    &repo.config().id[..10],
                    repo.storage().location()
                );
                println!("Keep your password safe: without it the data cannot be recovered.");
            }
            Ok(0)
        }
        Command::Backup(a) => cmd_backup(&cli, a, show_progress),
        Command::Snapshots(a) => {
            let repo = open_repo(&cli)?;
            let snaps: Vec<_> = repo
                .snapshots()?
                .into_iter()
                .filter(|s| a.host.as_ref().is_none_or(|h| &s.snapshot.hostname == h))
                .filter(|s| a.tags.is_empty() || s.snapshot.tags.iter().any(|t| a.tags.contains(t)))
                .collect();
            if a.json {
                output::json(&snaps.iter().map(output::snapshot_json).collect::<Vec<_>>());
            } else {
                output::snapshot_table(&snaps);
            }
            Ok(0)
        }
        Command::Ls(a) => {
            let repo = open_repo(&cli)?;
            let snap = repo.find_snapshot(&a.snapshot)?;
            let index = repo.load_index()?;
            let prefix = a
                .path
                .as_deref()
                .map(|p| PathBuf::from("/").join(p.trim_start_matches('/')));
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if !a.json {
                use std::io::Write;
                writeln!(
                    out,
                    "snapshot {} of {} at {}:",
                    snap.short_id(),
                    output::snapshot_what(&snap.snapshot),
                    snap.snapshot.time
                )?;
            }
            let mut found = prefix.is_none();
            restore::walk(
                &repo,
                &index,
                &snap.snapshot.tree,
                std::path::Path::new("/"),
                &mut |path, node| {
                    let inside = prefix.as_ref().is_none_or(|p| path.starts_with(p));
                    let above = prefix.as_ref().is_some_and(|p| p.starts_with(path));
                    if inside {
                        found = true;
                        output::ls_line(&mut out, path, node, a.json)
                            .map_err(|e| Error::io("writing", "stdout", e))?;
                    }
                    Ok(inside || above)
                },
            )?;
            if !found {
                return Err(Error::PathNotInSnapshot {
                    path: a.path.clone().unwrap_or_default(),
                    snapshot: snap.short_id().to_string(),
                }
                .into());
            }
            Ok(0)
        }
        Command::Restore(a) => {
            let repo = open_repo(&cli)?;
            let snap = repo.find_snapshot(&a.snapshot)?;
            journal_cmd::affected(&snap.id);
            let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let total = snap
                .snapshot
                .summary
                .as_ref()
                .map(|s| s.total_bytes)
                .unwrap_or(0);
            let display =
                show_progress.then(|| ProgressDisplay::bytes("restoring", total, bytes.clone()));
            let summary = restore::restore(
                &repo,
                &snap,
                &RestoreOptions {
                    target: a.target.clone(),
                    includes: a.includes.clone(),
                    overwrite: a.overwrite,
                    redirects: Vec::new(),
                },
                bytes,
            )?;
            drop(display);
            if a.json {
                output::json(
                    &serde_json::json!({"snapshot_id": snap.id, "target": a.target, "summary": summary}),
                );
            } else if !cli.quiet {
                println!(
                    "restored snapshot {} to {}: {} files, {} dirs, {} symlinks, {} in {:.2}s (all blobs verified)",
                    snap.short_id(),
                    a.target.display(),
                    summary.files,
                    summary.dirs,
                    summary.symlinks,
                    human_bytes(summary.bytes),
                    summary.duration_seconds
                );
            }
            Ok(0)
        }
        Command::Dump(a) => {
            let repo = open_repo(&cli)?;
            let snap = repo.find_snapshot(&a.snapshot)?;
            journal_cmd::affected(&snap.id);
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            restore::dump(&repo, &snap, a.path.as_deref(), &mut out)?;
            Ok(0)
        }
        Command::Check(a) => {
            let repo = open_repo(&cli)?;
            let subset = match &a.read_data_subset {
                Some(s) => {
                    let v: f64 = s.trim_end_matches('%').parse().map_err(|_| {
                        anyhow!("--read-data-subset takes a percentage such as 10 or 10%")
                    })?;
                    if !(0.0..=100.0).contains(&v) {
                        bail!("--read-data-subset must be between 0 and 100");
                    }
                    Some(v)
                }
                None => None,
            };
            let spinner = show_progress.then(|| ProgressDisplay::spinner("checking"));
            let report = check::check(
                &repo,
                &CheckOptions {
                    read_data: a.read_data,
                    read_data_subset: subset,
                },
            )?;
            drop(spinner);
            journal_cmd::note(format!(
                "{} errors, {} warnings",
                report.errors.len(),
                report.warnings.len()
            ));
            if a.json {
                output::json(&report);
            } else {
                output::check_report(&report, a.read_data || subset.is_some());
            }
            Ok(if report.errors.is_empty() { 0 } else { 1 })
        }
        Command::Forget(a) => cmd_forget(&cli, a),
        Command::Prune(a) => {
            let repo = open_repo(&cli)?;
            let report = prune::prune(&repo, &PruneOptions { dry_run: a.dry_run })?;
            output::prune_report(&report, a.json);
            postgres_cmd::expire_after_prune(&repo, a.dry_run, a.json)?;
            Ok(0)
        }
        Command::Stats(a) => {
            let repo = open_repo(&cli)?;
            let s = lifeboat_core::stats::stats(&repo)?;
            if a.json {
                output::json(&s);
            } else {
                output::stats(&s);
            }
            Ok(0)
        }
        Command::Key(k) => {
            let mut repo = open_repo(&cli)?;
            match k {
                KeyCommand::Add(a) => writeonly_cmd::add_key(&repo, a)?,
                KeyCommand::List(j) => {
                    let keys = repo.list_keys()?;
                    if j.json {
                        output::json(&keys);
                    } else {
                        println!(
                            " {:<10} {:<12} {:<12} {:<20} created",
                            "ID", "kind", "user", "host"
                        );
                        for k in keys {
                            println!(
                                "{}{:<10} {:<12} {:<12} {:<20} {}",
                                if k.current { "*" } else { " " },
                                &k.id[..8],
                                k.kind,
                                k.username,
                                k.hostname,
                                k.created
                            );
                        }
                    }
                }
                KeyCommand::Remove { id } => {
                    let removed = repo.remove_key(id)?;
                    println!("removed key {}", &removed[..8]);
                }
                KeyCommand::Passwd(np) => {
                    let id = repo.change_password(&read_new_password(np)?)?;
                    println!("password changed; new key {}", &id[..8]);
                }
            }
            Ok(0)
        }
        Command::Unlock(a) => {
            let repo = open_repo(&cli)?;
            let n = lifeboat_core::lock::unlock(&repo, a.remove_all)?;
            println!("removed {n} lock(s)");
            Ok(0)
        }
        Command::BackupPostgres(a) => postgres_cmd::backup(&cli, a, show_progress),
        Command::RestorePostgres(a) => postgres_cmd::restore(&cli, a),
        Command::WalPush(a) => postgres_cmd::wal_push(&cli, a),
        Command::WalFetch(a) => postgres_cmd::wal_fetch(&cli, a),
        Command::Wal(c) => postgres_cmd::wal(&cli, c),
        Command::Copy(a) => copy_cmd::run(&cli, a),
        Command::Journal(a) => journal_cmd::run_journal(&cli, a),
        Command::Mode(a) => journal_cmd::run_mode(&cli, a),
    }
}

fn cmd_backup(cli: &Cli, a: &BackupArgs, show_progress: bool) -> Result<i32> {
    let opts = BackupOptions {
        tags: a.tags.clone(),
        host: a.host.clone(),
        excludes: a.excludes.clone(),
        one_file_system: a.one_file_system,
        parent: a.parent.clone(),
        force: a.force,
        ..Default::default()
    };
    let stream_mode = a.stdin || a.stdin_from_command;
    if stream_mode && !a.paths.is_empty() {
        bail!("give either paths or --stdin/--stdin-from-command, not both");
    }
    if a.stdin && a.stdin_from_command {
        bail!("--stdin and --stdin-from-command are exclusive");
    }
    if !stream_mode && a.paths.is_empty() {
        bail!("nothing to back up: give paths, --stdin, or --stdin-from-command -- CMD");
    }
    let repo = open_repo(cli)?;
    let progress = Arc::new(Progress::default());
    let display = show_progress.then(|| ProgressDisplay::backup(progress.clone()));
    let outcome = if stream_mode {
        let name = a.stdin_name.clone().ok_or_else(|| {
            anyhow!("--stdin-name NAME is required with --stdin and --stdin-from-command")
        })?;
        if a.stdin_from_command {
            backup::backup_command(&repo, &name, &a.command, &opts, progress)?
        } else {
            let stdin = std::io::stdin().lock();
            backup::backup_stream(&repo, &name, stdin, &opts, progress, |_| {
                Ok(Default::default())
            })?
        }
    } else {
        backup::backup_paths(&repo, &a.paths, &opts, progress)?
    };
    drop(display);
    journal_cmd::affected(&outcome.snapshot_id);
    for (path, why) in &outcome.skipped {
        eprintln!("warning: skipped {}: {why}", path.display());
    }
    if a.json {
        output::json(&serde_json::json!({
            "snapshot_id": outcome.snapshot_id,
            "summary": outcome.snapshot.summary,
            "stream": outcome.snapshot.stream,
            "skipped": outcome.skipped.iter().map(|(p, w)| serde_json::json!({"path": p, "error": w})).collect::<Vec<_>>(),
        }));
    } else if !cli.quiet {
        output::backup_summary(&outcome);
    }
    if outcome.skipped.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "warning: {} files or directories could not be read; the snapshot {} was saved without them",
            outcome.skipped.len(),
            &outcome.snapshot_id[..8]
        );
        Ok(EXIT_PARTIAL)
    }
}

fn cmd_forget(cli: &Cli, a: &ForgetArgs) -> Result<i32> {
    let repo = open_repo(cli)?;
    let policy = KeepPolicy {
        last: a.keep_last,
        hourly: a.keep_hourly,
        daily: a.keep_daily,
        weekly: a.keep_weekly,
        monthly: a.keep_monthly,
        yearly: a.keep_yearly,
        within: a
            .keep_within
            .as_deref()
            .map(forget::parse_duration)
            .transpose()?,
    };
    let all = repo.snapshots()?;
    let mut remove: Vec<String> = Vec::new();
    let mut decisions = Vec::new();
    if !a.snapshots.is_empty() {
        if !policy.is_empty() {
            bail!("give either snapshot ids or a --keep-* policy, not both");
        }
        for s in &a.snapshots {
            remove.push(repo.find_snapshot(s)?.id);
        }
    } else {
        if policy.is_empty() {
            bail!("no policy given: pass at least one --keep-* option (nothing was removed)");
        }
        let selected: Vec<_> = all
            .into_iter()
            .filter(|s| a.host.as_ref().is_none_or(|h| &s.snapshot.hostname == h))
            .filter(|s| a.tags.is_empty() || s.snapshot.tags.iter().any(|t| a.tags.contains(t)))
            .collect();
        decisions = forget::apply(&selected, &policy);
        remove = decisions
            .iter()
            .filter(|d| !d.keep)
            .map(|d| d.id.clone())
            .collect();
    }
    let mut retained = Vec::new();
    if !a.dry_run {
        repo.require_writable("forget")?;
        let _lock =
            lifeboat_core::lock::acquire(&repo, false, "forget", lifeboat_core::lock::wait_time())?;
        for id in &remove {
            match repo.remove_snapshot(id) {
                Ok(()) => journal_cmd::affected(id),
                // Under object-lock retention: removed by a later forget.
                Err(e @ Error::Retained { .. }) => {
                    eprintln!("note: snapshot {} kept for now: {e}", &id[..8]);
                    retained.push(id.clone());
                }
                Err(e) => return Err(e.into()),
            }
        }
        remove.retain(|id| !retained.contains(id));
    }
    if a.json {
        output::json(
            &serde_json::json!({"dry_run": a.dry_run, "decisions": decisions, "removed": remove}),
        );
    } else {
        output::forget_report(&decisions, &remove, a.dry_run);
    }
    if a.prune && !a.dry_run {
        let report = prune::prune(&repo, &PruneOptions { dry_run: false })?;
        output::prune_report(&report, a.json);
        postgres_cmd::expire_after_prune(&repo, false, a.json)?;
    }
    Ok(0)
}
