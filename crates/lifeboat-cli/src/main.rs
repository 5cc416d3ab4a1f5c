//! `lifeboat`: the command-line front end. It parses arguments, finds the repository and its
//! password (flags, environment, configuration file, a terminal prompt), calls the operations
//! layer (`lifeboat-ops`) and prints its reports as text or `--json`. It holds no engine work.

mod cli;
mod cmd;
mod output;
mod render;
mod session;

use clap::Parser;
use cli::{Cli, Command};
use session::Session;

fn main() {
    let cli = Cli::parse();
    // The daemon logs what it does (with times); commands only warnings.
    let daemon = matches!(cli.command, Command::Daemon(_));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG")
                .unwrap_or_else(|_| if daemon { "info" } else { "warn" }.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    if daemon {
        logs.init();
    } else {
        logs.without_time().init();
    }
    let code = match Session::new(&cli) {
        Ok(session) => {
            // wal-push and wal-fetch are PostgreSQL's archive/restore commands: the server
            // stops them with a signal and expects them to die of it, so they keep the default.
            // The daemon handles its signals itself (SIGTERM: clean shutdown; SIGHUP: reload).
            if !matches!(
                cli.command,
                Command::WalPush(_) | Command::WalFetch(_) | Command::Daemon(_)
            ) {
                session.cancel_on_signals();
            }
            let result = run(&session, &cli.command);
            for w in session.ctx.take_warnings() {
                eprintln!("warning: {w}");
            }
            match result {
                Ok(code) => code,
                Err(e) => render::error(&cli.command, &e),
            }
        }
        Err(e) => render::error(&cli.command, &e),
    };
    std::process::exit(code);
}

/// Runs one command; returns its exit code.
fn run(s: &Session, command: &Command) -> anyhow::Result<i32> {
    match command {
        Command::Init(a) => cmd::init::run(s, a),
        Command::Backup(a) => cmd::backup::run(s, a),
        Command::Snapshots(a) => cmd::snapshots::run(s, a),
        Command::Ls(a) => cmd::ls::run(s, a),
        Command::Diff(a) => cmd::diff::run(s, a),
        Command::Find(a) => cmd::find::run(s, a),
        Command::Tag(a) => cmd::tag::run(s, a),
        Command::Rewrite(a) => cmd::rewrite::run(s, a),
        Command::Restore(a) => cmd::restore::run(s, a),
        Command::Dump(a) => cmd::dump::run(s, a),
        Command::Check(a) => cmd::check::run(s, a),
        Command::Forget(a) => cmd::forget::run(s, a),
        Command::Prune(a) => cmd::prune::run(s, a),
        Command::Stats(a) => cmd::stats::run(s, a),
        Command::Key(k) => cmd::key::run(s, k),
        Command::Unlock(a) => cmd::unlock::run(s, a),
        Command::WalPush(a) => cmd::wal::push(s, a),
        Command::WalFetch(a) => cmd::wal::fetch(s, a, command),
        Command::Wal(c) => cmd::wal::run(s, c),
        Command::Copy(a) => cmd::copy::run(s, a),
        Command::Journal(a) => cmd::journal::run(s, a),
        Command::Mode(a) => cmd::mode::run(s, a),
        Command::Config(c) => cmd::config::run(s, c),
        Command::Drill(c) => cmd::drill::run(s, c),
        Command::RestorePoint(c) => cmd::restore_point::run(s, c),
        Command::App(c) => cmd::app::run(s, c),
        Command::Daemon(a) => cmd::daemon::run(s, a),
    }
}
