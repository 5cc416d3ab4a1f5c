//! SQLite sources end to end through the real binary: consistent backups of databases a
//! separate process keeps writing (WAL and rollback-journal mode), refusal of corrupt files,
//! restores that never replace a database in use and leave no stale `-wal`/`-shm`, configured
//! sources, and drills.
//!
//! The writer is a python3 script (python3 must be installed; a missing python3 fails these
//! tests, it never skips them). Each of its transactions moves an amount between two accounts
//! and records it in an audit row, so a copy that is not transactionally consistent breaks
//! the invariants checked on every restored copy: the balances sum to a constant, and every
//! account's balance equals its opening balance plus what the audit rows say came in minus
//! what went out.

mod common;

use common::Env;
use rusqlite::Connection;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Accounts, each opening with [`OPENING`].
const ACCOUNTS: i64 = 50;
const OPENING: i64 = 1000;

const WRITER: &str = r#"
import os, random, sqlite3, sys
db, mode, progress, stop = sys.argv[1:5]
c = sqlite3.connect(db, timeout=60, isolation_level=None)
c.execute("PRAGMA journal_mode = %s" % mode).fetchone()
c.execute("PRAGMA synchronous = OFF")
c.execute("CREATE TABLE IF NOT EXISTS accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
c.execute("CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, amount INTEGER NOT NULL, note TEXT NOT NULL)")
c.execute("CREATE INDEX IF NOT EXISTS audit_src ON audit(src)")
c.execute("CREATE INDEX IF NOT EXISTS audit_dst ON audit(dst)")
rnd = random.Random(7)
c.execute("BEGIN IMMEDIATE")
if c.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0:
    c.executemany("INSERT INTO accounts(id, balance) VALUES (?, %d)" % int(sys.argv[6]), [(i,) for i in range(1, int(sys.argv[5]) + 1)])
    # History: zero-amount audit rows, so the file spans many pages.
    c.executemany("INSERT INTO audit(src, dst, amount, note) VALUES (?, ?, 0, ?)",
                  [(1 + i % 50, 1 + (i * 7) % 50, os.urandom(100).hex()) for i in range(20000)])
c.execute("COMMIT")
n = 0
accounts = int(sys.argv[5])
while not os.path.exists(stop):
    a, b = rnd.sample(range(1, accounts + 1), 2)
    x = rnd.randint(1, 50)
    c.execute("BEGIN IMMEDIATE")
    c.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (x, a))
    c.execute("INSERT INTO audit(src, dst, amount, note) VALUES (?, ?, ?, ?)", (a, b, x, os.urandom(100).hex()))
    c.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (x, b))
    c.execute("COMMIT")
    n += 1
    if n % 20 == 0:
        with open(progress + ".tmp", "w") as f:
            f.write(str(n))
        os.replace(progress + ".tmp", progress)
c.close()
"#;

/// A python3 process writing transfers into a database until stopped.
struct Writer {
    child: Child,
    progress: PathBuf,
    stop: PathBuf,
}

impl Writer {
    fn start(env: &Env, db: &Path, mode: &str) -> Writer {
        let script = env.path("writer.py");
        std::fs::write(&script, WRITER).unwrap();
        let tag = db.file_name().unwrap().to_string_lossy().into_owned();
        let progress = env.path(&format!("{tag}.progress"));
        let stop = env.path(&format!("{tag}.stop"));
        let child = Command::new("python3")
            .arg(&script)
            .arg(db)
            .arg(mode)
            .arg(&progress)
            .arg(&stop)
            .arg(ACCOUNTS.to_string())
            .arg(OPENING.to_string())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 must be installed: these tests do not skip");
        let w = Writer {
            child,
            progress,
            stop,
        };
        // Wait until it has committed a first batch of transfers.
        w.wait_for(20);
        w
    }

    /// Transfers committed so far.
    fn committed(&self) -> u64 {
        std::fs::read_to_string(&self.progress)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn wait_for(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.committed() < n {
            assert!(
                Instant::now() < deadline,
                "the writer committed only {} transfers",
                self.committed()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) {
        std::fs::write(&self.stop, b"").unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the writer failed: {status}");
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.stop, b"");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `lifeboat ARGS --json`, expecting success.
fn json(env: &Env, args: &[&str]) -> Value {
    env.json(args)
}

fn snapshot_count(env: &Env) -> usize {
    json(env, &["snapshots"]).as_array().unwrap().len()
}

/// Asserts integrity_check says ok and the transfer invariants hold; returns the audit rows.
fn assert_consistent(db: &Path) -> i64 {
    let c = Connection::open(db).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "{}", db.display());
    let (n, sum): (i64, i64) = c
        .query_row("SELECT count(*), sum(balance) FROM accounts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(n, ACCOUNTS, "{}", db.display());
    assert_eq!(sum, ACCOUNTS * OPENING, "{}", db.display());
    let broken: i64 = c
        .query_row(
            "SELECT count(*) FROM accounts a WHERE a.balance != ?1
               - coalesce((SELECT sum(amount) FROM audit WHERE src = a.id), 0)
               + coalesce((SELECT sum(amount) FROM audit WHERE dst = a.id), 0)",
            [OPENING],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        broken,
        0,
        "accounts disagreeing with the audit in {}",
        db.display()
    );
    c.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap()
}

fn no_companions(db: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        assert!(
            !Path::new(&p).exists(),
            "{} was left behind",
            Path::new(&p).display()
        );
    }
}

/// 20 backups while the writer commits; every one restores, passes integrity_check, holds the
/// invariants and matches the row counts it recorded.
fn backups_during_writes(mode: &str) {
    let env = Env::new();
    let db = env.path(&format!("bank-{mode}.db"));
    let writer = Writer::start(&env, &db, mode);
    let before = writer.committed();
    let mut ids = Vec::new();
    for i in 0..20 {
        // Every other backup with the quicker check.
        let check = if i % 2 == 0 { "full" } else { "quick" };
        let out = json(
            &env,
            &["backup", "sqlite", db.to_str().unwrap(), "--check", check],
        );
        let reports = out.as_array().unwrap();
        assert_eq!(reports.len(), 1, "{out:#}");
        let r = &reports[0];
        assert_eq!(r["sqlite"]["journal_mode"], mode, "{r:#}");
        assert_eq!(r["sqlite"]["integrity_check"], "ok");
        let pragma = if check == "full" {
            "integrity_check"
        } else {
            "quick_check"
        };
        assert_eq!(r["sqlite"]["check"], pragma);
        assert_eq!(r["sqlite"]["path"], db.to_str().unwrap());
        ids.push((
            r["snapshot_id"].as_str().unwrap().to_string(),
            r["sqlite"]["row_counts"]["audit"].as_u64().unwrap(),
        ));
    }
    let during = writer.committed() - before;
    writer.stop();
    assert!(
        during >= 20,
        "the writer committed only {during} transfers during the 20 backups"
    );
    let distinct: std::collections::BTreeSet<u64> = ids.iter().map(|(_, n)| *n).collect();
    assert!(
        distinct.len() >= 5,
        "the backups should see the writes progress: {distinct:?}"
    );
    let snaps = json(&env, &["snapshots"]);
    for s in snaps.as_array().unwrap() {
        assert_eq!(s["source"], "sqlite");
        assert_eq!(s["paths"][0], db.to_str().unwrap());
        assert_eq!(s["stream"]["name"], format!("bank-{mode}.db"));
    }
    for (i, (id, audit_rows)) in ids.iter().enumerate() {
        let target = env.path(&format!("restored/{i}.db"));
        let r = json(
            &env,
            &[
                "restore",
                "sqlite",
                id,
                "--target",
                target.to_str().unwrap(),
            ],
        );
        assert_eq!(r["integrity_check"], "ok");
        assert_eq!(r["replaced"], false);
        assert_eq!(r["journal_mode"], mode);
        let rows = assert_consistent(&target);
        assert_eq!(
            rows as u64, *audit_rows,
            "snapshot {id}: recorded row count"
        );
    }
    // The repository is sound after all of it.
    env.cmd().args(["check", "--read-data"]).assert().success();
}

#[test]
fn wal_database_backups_taken_while_a_process_writes_are_consistent() {
    backups_during_writes("wal");
}

#[test]
fn rollback_journal_database_backups_taken_while_a_process_writes_are_consistent() {
    backups_during_writes("delete");
}

/// A small bank database, written and closed.
fn bank(env: &Env, name: &str, mode: &str) -> PathBuf {
    let db = env.path(name);
    let w = Writer::start(env, &db, mode);
    w.wait_for(40);
    w.stop();
    db
}

#[test]
fn corrupt_missing_and_foreign_files_are_refused_and_record_nothing() {
    let env = Env::new();
    let db = bank(&env, "bank.db", "delete");
    // Damage b-tree pages in the middle of the file (the header stays intact).
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    let pages = bytes.len() / page;
    for p in [pages / 3, pages / 2] {
        for b in &mut bytes[p * page..p * page + 200] {
            *b = 0x5a;
        }
    }
    std::fs::write(&db, &bytes).unwrap();
    let notes = env.path("notes.txt");
    std::fs::write(&notes, "not a database").unwrap();
    let missing = env.path("missing.db");
    for (path, says) in [
        (&db, "bank.db"),
        (&notes, "not a SQLite database"),
        (&missing, "no such file"),
    ] {
        let out = env
            .cmd()
            .args(["backup", "sqlite", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains("nothing was recorded"), "{stderr}");
    }
    assert!(String::from_utf8_lossy(
        &env.cmd()
            .args(["backup", "sqlite", db.to_str().unwrap()])
            .output()
            .unwrap()
            .stderr
    )
    .contains("integrity_check"));
    // A good database listed with a bad one: nothing is recorded for either.
    let good = bank(&env, "good.db", "wal");
    env.cmd()
        .args([
            "backup",
            "sqlite",
            good.to_str().unwrap(),
            notes.to_str().unwrap(),
        ])
        .assert()
        .code(1);
    assert_eq!(snapshot_count(&env), 0);
    // The journal says the attempts failed.
    let journal = json(&env, &["journal"]);
    assert!(journal
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["operation"] == "backup" && r["result"]["status"] == "error"));
}

#[test]
fn restore_refuses_a_database_in_use_or_existing_and_leaves_no_wal_or_shm() {
    let env = Env::new();
    let db = bank(&env, "bank.db", "wal");
    let snap = json(&env, &["backup", "sqlite", db.to_str().unwrap()])[0]["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let recorded_rows = {
        let c = Connection::open(&db).unwrap();
        c.query_row("SELECT count(*) FROM audit", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };

    // The live database, held open by another process.
    let mut holder = Command::new("python3")
        .arg("-c")
        .arg(
            "import os, sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute('SELECT count(*) FROM accounts').fetchone()\n\
             print(os.getpid(), flush=True)\n\
             time.sleep(120)\n",
        )
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 must be installed: these tests do not skip");
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: u32 = line.trim().parse().unwrap();
    let out = env
        .cmd()
        .args([
            "restore",
            "sqlite",
            &snap,
            "--target",
            db.to_str().unwrap(),
            "--overwrite",
        ])
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("process {pid}")), "{stderr}");
    assert!(
        stderr.contains(&format!("hint: stop process {pid}")),
        "{stderr}"
    );

    // Exists, no --overwrite.
    let out = env
        .cmd()
        .args(["restore", "sqlite", &snap, "--target", db.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exists") && stderr.contains("--overwrite"),
        "{stderr}"
    );

    // A process that wrote more and died without checkpointing leaves -wal and -shm behind;
    // the restore replaces the database and removes both (else SQLite would replay the stale
    // WAL into the restored file).
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import os, sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute(\"INSERT INTO audit(src, dst, amount, note) VALUES (1, 2, 0, 'after the backup')\")\n\
             c.commit()\n\
             os._exit(0)\n",
        )
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    assert!(Path::new(&wal).exists(), "the test needs a stale WAL");
    let r = json(
        &env,
        &[
            "restore",
            "sqlite",
            "latest",
            "--target",
            db.to_str().unwrap(),
            "--overwrite",
        ],
    );
    assert_eq!(r["replaced"], true);
    assert_eq!(r["removed"].as_array().unwrap().len(), 2, "{r:#}");
    no_companions(&db);
    assert_eq!(assert_consistent(&db), recorded_rows);
    no_companions(&db);

    // Restoring something that is not a SQLite backup is refused.
    let src = env.path("files");
    common::write(&src.join("a.txt"), b"a");
    let files = env.backup(&[&src]);
    let out = env
        .cmd()
        .args([
            "restore",
            "sqlite",
            &files,
            "--target",
            env.path("x.db").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SQLite backup"));
    assert!(!env.path("x.db").exists());
}

fn write_config(env: &Env, body: &str) -> PathBuf {
    let p = env.path("lifeboat.toml");
    std::fs::write(
        &p,
        format!(
            "[repositories.main]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n{body}",
            env.repo.display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_configured_sqlite_source_backs_up_and_its_drill_passes_or_fails_on_its_checks() {
    let env = Env::new();
    let db = bank(&env, "bank.db", "wal");
    let checker = env.path("check_bank.py");
    std::fs::write(
        &checker,
        "import os, sqlite3\n\
         c = sqlite3.connect(os.environ['LIFEBOAT_RESTORED_PATH'])\n\
         bad = c.execute('SELECT count(*) FROM accounts a WHERE a.balance != 1000 - coalesce((SELECT sum(amount) FROM audit WHERE src = a.id), 0) + coalesce((SELECT sum(amount) FROM audit WHERE dst = a.id), 0)').fetchone()[0]\n\
         print('accounts disagreeing with the audit:', bad)\n\
         raise SystemExit(1 if bad else 0)\n",
    )
    .unwrap();
    let checks = |sum: i64| {
        format!(
            r#"
[[drills.DRILL.checks]]
kind = "sql"
name = "balances"
query = "SELECT sum(balance) FROM accounts"
expect = {sum}

[[drills.DRILL.checks]]
kind = "row_count"
table = "audit"
expect = "recorded"

[[drills.DRILL.checks]]
kind = "row_count"
table = "main.accounts"
min = {ACCOUNTS}

[[drills.DRILL.checks]]
kind = "command"
name = "audit agrees"
command = ["python3", "{}"]
"#,
            checker.display()
        )
    };
    let scratch = env.path("scratch");
    let cfg = write_config(
        &env,
        &format!(
            "[sources.bank]\nkind = \"sqlite\"\npaths = [\"{db}\"]\ntags = [\"bank\"]\n\n\
             [drills.bank-weekly]\nsource = \"bank\"\nscratch_dir = \"{s}\"\n{ok}\n\
             [drills.bank-wrong]\nsource = \"bank\"\nscratch_dir = \"{s}\"\n{bad}\n",
            db = db.display(),
            s = scratch.display(),
            ok = checks(ACCOUNTS * OPENING).replace("DRILL", "bank-weekly"),
            bad = checks(ACCOUNTS * OPENING + 1).replace("DRILL", "bank-wrong"),
        ),
    );
    let cfg = cfg.to_str().unwrap();

    // A drill with nothing to restore cannot run.
    let out = env
        .cmd()
        .args(["--config", cfg, "drill", "run", "bank-weekly", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let out = json(&env, &["--config", cfg, "backup", "--source", "bank"]);
    let r = &out.as_array().unwrap()[0];
    assert_eq!(r["sqlite"]["path"], db.to_str().unwrap());
    assert!(r["sqlite"]["row_counts"]["audit"].as_u64().unwrap() > 20000);
    let snaps = json(&env, &["snapshots"]);
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    assert_eq!(snaps[0]["tags"][0], "bank");
    assert_eq!(snaps[0]["source"], "sqlite");

    // The database changes after the backup: the drill checks the copy, not the live file.
    Connection::open(&db)
        .unwrap()
        .execute("DELETE FROM audit WHERE amount = 0", [])
        .unwrap();

    let out = env
        .cmd()
        .args(["--config", cfg, "drill", "run", "bank-weekly", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["result"], "passed");
    assert_eq!(report["source_kind"], "sqlite");
    let checks = report["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "integrity_check",
            "balances",
            "row_count audit",
            "row_count main.accounts",
            "audit agrees"
        ],
        "{report:#}"
    );
    for c in checks {
        assert_eq!(c["result"], "passed", "{c:#}");
    }
    assert_eq!(checks[0]["kind"], "content");
    assert!(checks[0]["detail"].as_str().unwrap().contains("ok"));
    assert!(checks[2]["detail"]
        .as_str()
        .unwrap()
        .contains("as recorded at backup time"));
    assert!(report["rto_seconds"].as_f64().unwrap() > 0.0);
    assert!(report["restored_bytes"].as_u64().unwrap() > 0);
    // Scratch space is cleaned up.
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);

    let out = env
        .cmd()
        .args(["--config", cfg, "drill", "run", "bank-wrong", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(4), "{report:#}");
    assert_eq!(report["result"], "failed");
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{report:#}");
    assert_eq!(failed[0]["name"], "balances");
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("expected '{}'", ACCOUNTS * OPENING + 1)),
        "{report:#}"
    );

    // Both drills are in the journal and on the snapshot.
    let list = json(&env, &["--config", cfg, "drill", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 3);
}

#[test]
fn a_restore_point_with_a_sqlite_member_restores_the_consistent_copy() {
    let env = Env::new();
    let db = env.path("bank.db");
    let writer = Writer::start(&env, &db, "wal");
    let cfg = write_config(
        &env,
        &format!(
            "[sources.bank]\nkind = \"sqlite\"\npaths = [\"{}\"]\n",
            db.display()
        ),
    );
    let cfg = cfg.to_str().unwrap();
    // Captured while the writer commits.
    let p = json(
        &env,
        &[
            "--config",
            cfg,
            "restore-point",
            "create",
            "nightly",
            "--source",
            "bank",
        ],
    );
    writer.stop();
    let member = &p["members"][0];
    assert_eq!(member["kind"], "sqlite", "{p:#}");
    let root = env.path("points");
    let r = json(
        &env,
        &[
            "--config",
            cfg,
            "restore-point",
            "restore",
            "nightly",
            "--target-root",
            root.to_str().unwrap(),
        ],
    );
    assert_eq!(r["ok"], true, "{r:#}");
    assert_eq!(r["members"][0]["result"], "ok", "{r:#}");
    assert!(r["members"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("integrity_check ok"));
    let restored = root.join("bank").join("bank.db");
    assert_consistent(&restored);
    no_companions(&restored);
}
