//! Library-level integration tests: backup, restore, check, forget, prune and copy through the
//! operations layer on real local repositories, every operation against every mode, and
//! cancellation that leaves a repository passing `check --read-data`.

use lifeboat_core::mode::Mode;
use lifeboat_core::Repository;
use lifeboat_ops::backup::{FilesRequest, SqliteRequest, StreamRequest};
use lifeboat_ops::check::ReadData;
use lifeboat_ops::copy::CopyRequest;
use lifeboat_ops::forget::{ForgetRequest, Policy};
use lifeboat_ops::init::InitRequest;
use lifeboat_ops::modes::{self, Effect, Operation, MODES};
use lifeboat_ops::restore::{RestoreRequest, SqliteRestoreRequest};
use lifeboat_ops::{Context, ErrorKind, Location, OpsError};
use std::path::Path;

const PASSWORD: &[u8] = b"operations test";

fn repo(dir: &Path, name: &str) -> Repository {
    std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
    std::env::set_var("LIFEBOAT_LOCK_WAIT", "1");
    let (repo, _) = lifeboat_ops::init::init(
        &Context::cli(),
        &Location::url(dir.join(name).display().to_string()),
        PASSWORD,
        &InitRequest::default(),
    )
    .expect("init");
    repo
}

fn tree(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..20 {
        let body: Vec<u8> = (0..40_000u32).map(|j| ((i * 7 + j) % 251) as u8).collect();
        std::fs::write(src.join(format!("f{i}.bin")), body).unwrap();
    }
    std::fs::write(src.join("sub/note.txt"), "hello").unwrap();
    src
}

fn files_request(src: &Path) -> FilesRequest {
    FilesRequest {
        paths: vec![src.to_path_buf()],
        ..Default::default()
    }
}

fn assert_clean(repo: &Repository) {
    let report = lifeboat_ops::check::check(&Context::cli(), repo, ReadData::All).unwrap();
    assert!(
        report.errors.is_empty(),
        "check --read-data: {:?}",
        report.errors
    );
}

fn journal_ops(repo: &Repository) -> Vec<(String, String)> {
    lifeboat_ops::journal::list(&Context::cli(), repo)
        .unwrap()
        .into_iter()
        .filter_map(|l| match l {
            lifeboat_ops::journal::Listed::Record(r) => Some((r.operation, r.result.status)),
            _ => None,
        })
        .collect()
}

#[test]
fn backup_restore_check_forget_prune_through_the_operations_layer() {
    let dir = tempfile::tempdir().unwrap();
    let src = tree(dir.path());
    let repo = repo(dir.path(), "repo");
    let ctx = Context::cli();
    let first = lifeboat_ops::backup::files(&ctx, &repo, &files_request(&src)).unwrap();
    assert!(first.complete());
    assert_eq!(first.summary.as_ref().unwrap().files_new, 21);
    std::fs::write(src.join("f0.bin"), "changed").unwrap();
    let second = lifeboat_ops::backup::files(&ctx, &repo, &files_request(&src)).unwrap();
    assert_eq!(second.summary.as_ref().unwrap().files_changed, 1);

    let target = dir.path().join("restored");
    let r = lifeboat_ops::restore::files(
        &ctx,
        &repo,
        &RestoreRequest {
            snapshot: first.snapshot_id.clone(),
            target: target.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.summary.files, 21);
    let rel = src.strip_prefix("/").unwrap();
    assert_eq!(
        std::fs::read(target.join(rel).join("f3.bin"))
            .unwrap()
            .len(),
        40_000
    );
    // Restoring into the now non-empty target is refused with a typed hint.
    let e = lifeboat_ops::restore::files(
        &ctx,
        &repo,
        &RestoreRequest {
            snapshot: "latest".into(),
            target: target.clone(),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.hint(), Some(lifeboat_ops::Hint::EmptyTargetOrOverwrite));

    let report = lifeboat_ops::forget::forget(
        &ctx,
        &repo,
        &ForgetRequest {
            policy: Policy {
                keep_last: Some(1),
                ..Default::default()
            },
            prune: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(report.removed, vec![first.snapshot_id.clone()]);
    let pruned = report.prune.expect("pruned");
    assert!(pruned.prune.blobs_removed > 0, "{:?}", pruned.prune);
    assert_eq!(repo.list_snapshot_ids().unwrap(), vec![second.snapshot_id]);
    assert_clean(&repo);
    let ops = journal_ops(&repo);
    for op in ["init", "backup", "restore", "forget", "check"] {
        assert!(ops.iter().any(|(o, _)| o == op), "{op} journaled: {ops:?}");
    }
    assert!(ops.iter().any(|(o, s)| o == "restore" && s == "error"));
}

#[test]
fn copy_through_the_operations_layer_is_journaled_in_both_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let src = tree(dir.path());
    let a = repo(dir.path(), "a");
    let b = repo(dir.path(), "b");
    let ctx = Context::cli();
    lifeboat_ops::backup::files(&ctx, &a, &files_request(&src)).unwrap();
    let out = lifeboat_ops::copy::copy(&ctx, &a, &b, &CopyRequest::default()).unwrap();
    assert_eq!(out.report.copied(), 1);
    let again = lifeboat_ops::copy::copy(&ctx, &a, &b, &CopyRequest::default()).unwrap();
    assert_eq!(again.report.copied(), 0);
    assert_eq!(b.list_snapshot_ids().unwrap().len(), 1);
    assert_clean(&b);
    assert!(journal_ops(&a).iter().any(|(o, _)| o == "copy"));
    assert!(journal_ops(&b).iter().any(|(o, _)| o == "copy"));
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Runs `op` through the operations layer on `repo`; `Ok` when it was allowed (it may still
/// fail for other reasons, which must not be a mode refusal).
fn attempt(
    op: Operation,
    repo: &Repository,
    other: &Repository,
    scratch: &Path,
) -> Result<(), OpsError> {
    let ctx = Context::cli();
    let src = scratch.join("src");
    let latest = || "latest".to_string();
    match op {
        Operation::Init => modes::require(repo, op),
        Operation::BackupFiles => {
            lifeboat_ops::backup::files(&ctx, repo, &files_request(&src)).map(drop)
        }
        Operation::BackupStream => lifeboat_ops::backup::stream(
            &ctx,
            repo,
            &StreamRequest {
                name: "s.txt".into(),
                ..Default::default()
            },
            &b"stream"[..],
        )
        .map(drop),
        Operation::BackupSqlite => {
            let db = scratch.join("app.db");
            if !db.exists() {
                rusqlite::Connection::open(&db)
                    .unwrap()
                    .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
                    .unwrap();
            }
            lifeboat_ops::backup::sqlite(
                &ctx,
                repo,
                &SqliteRequest {
                    paths: vec![db],
                    ..Default::default()
                },
            )
            .map(drop)
        }
        Operation::RestoreSqlite => {
            let snapshot = repo
                .snapshots()
                .unwrap()
                .into_iter()
                .rfind(|s| s.snapshot.source == "sqlite")
                .map(|s| s.id)
                .unwrap_or_else(latest);
            let t = tempfile::tempdir_in(scratch).unwrap();
            lifeboat_ops::restore::sqlite(
                &ctx,
                repo,
                &SqliteRestoreRequest {
                    snapshot,
                    target: t.path().join("r.db"),
                    overwrite: false,
                },
            )
            .map(drop)
        }
        Operation::WalPush
        | Operation::BackupPostgres
        | Operation::BackupPostgresPhysical
        | Operation::RestorePostgres
        | Operation::WalFetch => modes::require(repo, op),
        Operation::WalVerify | Operation::WalShow => lifeboat_ops::wal::show(&ctx, repo).map(drop),
        Operation::WalExpire | Operation::WalExpireDryRun => {
            lifeboat_ops::wal::expire(&ctx, repo, None, op == Operation::WalExpireDryRun).map(drop)
        }
        Operation::List => lifeboat_ops::list::snapshots(&ctx, repo, &Default::default()).map(drop),
        Operation::Restore => {
            let t = tempfile::tempdir_in(scratch).unwrap();
            lifeboat_ops::restore::files(
                &ctx,
                repo,
                &RestoreRequest {
                    snapshot: latest(),
                    target: t.path().join("r"),
                    ..Default::default()
                },
            )
            .map(drop)
        }
        Operation::Dump => {
            let mut sink = Vec::new();
            lifeboat_ops::dump::dump(
                &ctx,
                repo,
                &latest(),
                Some(&format!("{}/sub/note.txt", src.display())),
                &mut sink,
            )
            .map(drop)
        }
        Operation::Check => lifeboat_ops::check::check(&ctx, repo, ReadData::None).map(drop),
        Operation::ForgetDryRun | Operation::Forget => lifeboat_ops::forget::forget(
            &ctx,
            repo,
            &ForgetRequest {
                policy: Policy {
                    keep_last: Some(50),
                    ..Default::default()
                },
                dry_run: op == Operation::ForgetDryRun,
                ..Default::default()
            },
        )
        .map(drop),
        Operation::Tag => lifeboat_ops::rewrite::tag(
            &ctx,
            repo,
            &lifeboat_ops::rewrite::TagRequest {
                snapshots: vec![latest()],
                add: vec![format!("t{}", rand_suffix())],
                ..Default::default()
            },
        )
        .map(drop),
        Operation::Rewrite | Operation::RewriteForgetOriginal => lifeboat_ops::rewrite::rewrite(
            &ctx,
            repo,
            &lifeboat_ops::rewrite::RewriteRequest {
                excludes: vec!["note.txt".into()],
                forget_original: op == Operation::RewriteForgetOriginal,
                ..Default::default()
            },
        )
        .map(drop),
        Operation::PruneDryRun => lifeboat_ops::prune::prune(&ctx, repo, true).map(drop),
        Operation::Prune => lifeboat_ops::prune::prune(&ctx, repo, false).map(drop),
        Operation::CopyFrom => {
            lifeboat_ops::copy::copy(&ctx, repo, other, &CopyRequest::default()).map(drop)
        }
        Operation::CopyInto => {
            lifeboat_ops::copy::copy(&ctx, other, repo, &CopyRequest::default()).map(drop)
        }
        Operation::KeyAdd => {
            lifeboat_ops::keys::add(&ctx, repo, b"another password", false).map(drop)
        }
        Operation::KeyList => lifeboat_ops::keys::list(&ctx, repo).map(drop),
        Operation::KeyRemove => {
            // Refusal is checked before the key is looked up; an allowed attempt on a key that
            // does not exist fails with "no key", not with the mode.
            lifeboat_ops::keys::remove(&ctx, repo, "ffffffff").map(drop)
        }
        Operation::KeyPasswd => {
            let mut r = Repository::open(repo.storage().clone(), PASSWORD).unwrap();
            lifeboat_ops::keys::passwd(&ctx, &mut r, PASSWORD).map(drop)
        }
        Operation::ModeShow => lifeboat_ops::mode::show(&ctx, repo).map(drop),
        Operation::ModeSet => {
            let now = lifeboat_ops::mode::show(&ctx, repo)?.mode;
            lifeboat_ops::mode::set(&ctx, repo, now).map(drop)
        }
        Operation::Journal => lifeboat_ops::journal::verify(&ctx, repo, None).map(drop),
        Operation::Unlock => lifeboat_ops::unlock::unlock(&ctx, repo, false).map(drop),
        Operation::Drill => {
            let text = format!(
                "[repositories.r]\nurl = \"/unused\"\n[sources.s]\nkind = \"files\"\npaths = [\"{}\"]\n[drills.d]\nsource = \"s\"\nscratch_dir = \"{}\"\n",
                src.display(),
                scratch.join("drills").display()
            );
            let config =
                lifeboat_config::Config::parse(&text, scratch.join("lifeboat.toml")).unwrap();
            let req = lifeboat_ops::drill::DrillRunRequest {
                drill: "d".into(),
                ..Default::default()
            };
            lifeboat_ops::drill::run(&ctx, repo, &config, &req, None).map(drop)
        }
        Operation::DrillReports => lifeboat_ops::drill::list(&ctx, repo, None).map(drop),
        Operation::RestorePointCreate => {
            let text = format!(
                "[repositories.r]\nurl = \"/unused\"\n[sources.s]\nkind = \"files\"\npaths = [\"{}\"]\nrestore_point = true\n",
                src.display()
            );
            let config =
                lifeboat_config::Config::parse(&text, scratch.join("lifeboat.toml")).unwrap();
            let n = lifeboat_ops::restore_point::list(&ctx, repo).map_or(0, |l| l.len());
            let req = lifeboat_ops::restore_point::CreateRequest {
                name: format!("p{n}-{}", rand_suffix()),
                ..Default::default()
            };
            lifeboat_ops::restore_point::create(&ctx, repo, &config, &req).map(drop)
        }
        Operation::RestorePointList => lifeboat_ops::restore_point::list(&ctx, repo).map(drop),
        // Allowed attempts on a point that does not exist fail with "no restore point".
        Operation::RestorePointPin => {
            lifeboat_ops::restore_point::pin(&ctx, repo, "nope", "forever").map(drop)
        }
        Operation::RestorePointRestore => lifeboat_ops::restore_point::restore(
            &ctx,
            repo,
            &lifeboat_ops::restore_point::RestoreRequest {
                point: "nope".into(),
                target_root: scratch.join("rp"),
                ..Default::default()
            },
            None,
        )
        .map(drop),
    }
}

#[test]
fn every_operation_in_every_mode_is_allowed_or_refused_with_the_modes_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = tree(dir.path());
    let ctx = Context::cli();
    for mode in MODES {
        let r = repo(dir.path(), &format!("repo-{}", mode.name()));
        let other = repo(dir.path(), &format!("other-{}", mode.name()));
        lifeboat_ops::backup::files(&ctx, &r, &files_request(&src)).unwrap();
        lifeboat_ops::backup::files(&ctx, &other, &files_request(&src)).unwrap();
        lifeboat_ops::mode::set(&ctx, &r, mode).unwrap();
        for op in Operation::ALL {
            let result = attempt(op, &r, &other, dir.path());
            let refused = matches!(&result, Err(e) if e.kind() == ErrorKind::ModeRefused);
            assert_eq!(
                refused,
                !op.allowed_in(mode),
                "{op:?} in {mode}: {:?}",
                result.as_ref().err().map(|e| e.to_string())
            );
            if let Err(e) = &result {
                if refused {
                    assert!(e.to_string().contains(mode.name()), "{e}");
                    assert_eq!(e.exit_code(), 13, "{op:?}");
                    assert_eq!(e.hint(), Some(lifeboat_ops::Hint::LeaveMode));
                } else {
                    // Allowed but failing for its own reasons (no WAL, unknown key): never
                    // because of the mode.
                    assert!(
                        matches!(
                            op,
                            Operation::KeyRemove
                                | Operation::KeyPasswd
                                | Operation::Restore
                                | Operation::WalExpire
                                | Operation::WalVerify
                                | Operation::WalShow
                                | Operation::Dump
                                | Operation::RestorePointPin
                        ) || op.effect() == Effect::Read,
                        "{op:?} in {mode} failed: {e}"
                    );
                }
            }
        }
        lifeboat_ops::mode::set(&ctx, &r, Mode::Normal).unwrap();
    }
}

#[test]
fn cancelling_a_backup_leaves_nothing_that_points_at_missing_data() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    std::fs::create_dir_all(&src).unwrap();
    let mut seed = 1u64;
    for i in 0..40 {
        let body: Vec<u8> = (0..1_000_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        std::fs::write(src.join(format!("r{i}.bin")), body).unwrap();
    }
    let repo = repo(dir.path(), "repo");
    let ctx = Context::cli();
    let token = ctx.cancel_token().clone();
    let progress = ctx.progress.clone();
    let watcher = std::thread::spawn(move || {
        // Cancel once a few megabytes went through.
        while progress.bytes.load(std::sync::atomic::Ordering::Relaxed) < 4_000_000 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        token.cancel();
        std::time::Instant::now()
    });
    let e = lifeboat_ops::backup::files(&ctx, &repo, &files_request(&src)).unwrap_err();
    let cancelled_at = watcher.join().unwrap();
    assert!(
        cancelled_at.elapsed() < std::time::Duration::from_secs(1),
        "stopped within a second"
    );
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert_eq!(e.exit_code(), 130);
    assert!(repo.list_snapshot_ids().unwrap().is_empty());
    assert!(
        lifeboat_core::lock::list_locks(&repo).unwrap().is_empty(),
        "lock released"
    );
    assert_clean(&repo);
    assert!(journal_ops(&repo)
        .iter()
        .any(|(o, s)| o == "backup" && s == "cancelled"));
    // The next backup works and prune removes the leftovers.
    let fresh = Context::cli();
    lifeboat_ops::backup::files(&fresh, &repo, &files_request(&src)).unwrap();
    lifeboat_ops::prune::prune(&fresh, &repo, false).unwrap();
    assert_clean(&repo);
}

/// A storage that cancels `token` when the `at`-th write or removal (counting only data, index
/// and snapshot objects) begins: a cancel request arriving in the middle of a prune.
#[derive(Debug)]
struct CancelAt {
    inner: lifeboat_storage::Storage,
    token: lifeboat_core::cancel::CancelToken,
    count: std::sync::atomic::AtomicUsize,
    at: usize,
}

impl CancelAt {
    fn tick(&self, key: &str) {
        if ["data/", "index/", "snapshots/"]
            .iter()
            .any(|p| key.starts_with(p))
            && self.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == self.at
        {
            self.token.cancel();
        }
    }
}

impl lifeboat_storage::ReadStorage for CancelAt {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn capabilities(&self) -> lifeboat_storage::Capabilities {
        self.inner.capabilities()
    }
    fn read(&self, key: &str) -> lifeboat_storage::Result<Vec<u8>> {
        self.inner.read(key)
    }
    fn read_range(&self, key: &str, offset: u64, length: u64) -> lifeboat_storage::Result<Vec<u8>> {
        self.inner.read_range(key, offset, length)
    }
    fn list(&self, prefix: &str) -> lifeboat_storage::Result<Vec<lifeboat_storage::ObjectInfo>> {
        self.inner.list(prefix)
    }
    fn stat(&self, key: &str) -> lifeboat_storage::Result<lifeboat_storage::ObjectInfo> {
        self.inner.stat(key)
    }
}

impl lifeboat_storage::WriteStorage for CancelAt {
    fn write(
        &self,
        key: &str,
        data: &[u8],
        options: &lifeboat_storage::WriteOptions,
    ) -> lifeboat_storage::Result<()> {
        self.tick(key);
        self.inner.write(key, data, options)
    }
    fn remove(&self, key: &str) -> lifeboat_storage::Result<()> {
        self.tick(key);
        self.inner.remove(key)
    }
}

#[test]
fn cancelling_a_prune_at_any_step_leaves_a_repository_that_passes_check_read_data() {
    let dir = tempfile::tempdir().unwrap();
    let src = tree(dir.path());
    let ctx = Context::cli();
    let mut at = 1;
    loop {
        let repo = repo(dir.path(), &format!("repo{at}"));
        let mut ids = Vec::new();
        for i in 0..4 {
            std::fs::write(
                src.join(format!("f{i}.bin")),
                format!("generation {i} {at}").repeat(5000),
            )
            .unwrap();
            ids.push(
                lifeboat_ops::backup::files(&ctx, &repo, &files_request(&src))
                    .unwrap()
                    .snapshot_id,
            );
        }
        lifeboat_ops::forget::forget(
            &ctx,
            &repo,
            &ForgetRequest {
                snapshots: ids[..3].to_vec(),
                ..Default::default()
            },
        )
        .unwrap();
        let cancelled = Context::cli();
        let storage: lifeboat_storage::Storage = std::sync::Arc::new(CancelAt {
            inner: repo.storage().clone(),
            token: cancelled.cancel_token().clone(),
            count: Default::default(),
            at,
        });
        let watched = Repository::open(storage, PASSWORD).unwrap();
        match lifeboat_ops::prune::prune(&cancelled, &watched, false) {
            Ok(_) => {
                // The cancel request came after the last step: prune had finished.
                assert!(at > 1, "prune must have had at least one step to cancel");
                break;
            }
            Err(e) => {
                assert!(e.is_cancelled(), "step {at}: {e}");
                assert!(
                    lifeboat_core::lock::list_locks(&repo).unwrap().is_empty(),
                    "lock released"
                );
                assert_clean(&repo);
                assert!(journal_ops(&repo)
                    .iter()
                    .any(|(o, s)| o == "prune" && s == "cancelled"));
                // The next prune finishes the job.
                lifeboat_ops::prune::prune(&ctx, &repo, false).unwrap();
                assert_clean(&repo);
                let restored = dir.path().join(format!("restored{at}"));
                lifeboat_ops::restore::files(
                    &ctx,
                    &repo,
                    &RestoreRequest {
                        snapshot: ids[3].clone(),
                        target: restored,
                        ..Default::default()
                    },
                )
                .unwrap();
            }
        }
        at += 1;
        assert!(at < 100, "prune never finished");
    }
}
