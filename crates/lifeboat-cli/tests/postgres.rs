//! PostgreSQL end-to-end tests: real clusters (initdb in temp dirs, unix sockets, free ports),
//! archiving through the built `lifeboat` binary, logical and physical backups, point-in-time
//! restores.
//!
//! PostgreSQL must be installed (Debian: `apt-get install postgresql`); a missing installation
//! fails these tests, it never skips them. PostgreSQL refuses to run as root, so when the tests
//! run as root every process (initdb, the servers, psql and lifeboat itself) runs as the
//! `postgres` user (or `lifeboat-test`, created when neither exists).

use assert_cmd::Command;
use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod pg;
use pg::*;

/// Runs a physical restore with --start --keep-running, returns (report, query result).
fn pitr(env: &Env, dir: &str, target: &[&str], sql: &str) -> (Value, String) {
    restore_and_query(env, |a| env.lb_json(a), dir, target, sql)
}

#[test]
fn logical_round_trip_selective_restore_and_failures() {
    let env = Env::new();
    let pg = Cluster::start(&env, "logical", false);
    pg.psql("postgres", "CREATE DATABASE shop");
    pg.psql("postgres", "CREATE ROLE clerk LOGIN");
    pg.psql(
        "shop",
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
         CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers, amount numeric, note text);
         CREATE SCHEMA audit; CREATE TABLE audit.log (at timestamptz DEFAULT now(), what text);
         INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 500) g;
         INSERT INTO orders (customer, amount, note) SELECT 1 + g % 500, g * 1.5, repeat('x', g % 50) FROM generate_series(1, 20000) g;
         INSERT INTO audit.log (what) VALUES ('created');
         CREATE INDEX ON orders (customer);",
    );
    let before = stable_dump(&env, &pg.dsn("shop"));
    assert!(before.contains("COPY public.orders"));

    // One database.
    let out = env.lb_json(&["backup", "postgres", "--dsn", &pg.dsn("shop")]);
    let snap = out[0]["snapshot_id"].as_str().unwrap().to_string();
    let meta = &out[0]["postgres"];
    assert_eq!(meta["database"], "shop");
    assert_eq!(meta["format"], "custom");
    assert!(meta["server_version"]
        .as_str()
        .unwrap()
        .starts_with(char::is_numeric));
    let listed = env.snapshots();
    let s = listed
        .iter()
        .find(|s| s["id"] == snap.as_str())
        .expect("snapshot listed");
    assert_eq!(s["source"], "postgres-logical", "{s}");

    // --all: globals plus one snapshot per database.
    let all = env.lb_json(&["backup", "postgres", "--dsn", &pg.dsn("postgres"), "--all"]);
    let dbs: Vec<Value> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["postgres"]["database"].clone())
        .collect();
    assert_eq!(dbs, vec![Value::Null, "postgres".into(), "shop".into()]);
    let globals = all[0]["snapshot_id"].as_str().unwrap();
    let dumped = env.lb().args(["dump", globals]).output().unwrap();
    assert!(String::from_utf8_lossy(&dumped.stdout).contains("CREATE ROLE clerk"));

    // Full restore with --create after the database is gone: identical pg_dump output.
    pg.psql("postgres", "DROP DATABASE shop");
    env.lb()
        .args([
            "restore",
            "postgres",
            &snap,
            "--dsn",
            &pg.dsn("postgres"),
            "--create",
        ])
        .assert()
        .success();
    assert_same_dump(
        &stable_dump(&env, &pg.dsn("shop")),
        &before,
        "restore --create",
    );

    // Parallel restore into a scratch database (goes through a temporary file).
    env.lb()
        .args([
            "restore",
            "postgres",
            &snap,
            "--dsn",
            &pg.dsn("postgres"),
            "--into-database",
            "shop_copy",
            "--jobs",
            "2",
        ])
        .assert()
        .success();
    assert_same_dump(
        &stable_dump(&env, &pg.dsn("shop_copy")),
        &before,
        "restore --jobs 2",
    );

    // Someone deletes rows by mistake; pull the table back into a scratch database.
    pg.psql("shop", "DELETE FROM orders WHERE customer < 100");
    env.lb()
        .args([
            "restore",
            "postgres",
            &snap,
            "--dsn",
            &pg.dsn("postgres"),
            "--into-database",
            "rescue",
            "--table",
            "orders",
        ])
        .assert()
        .success();
    assert_eq!(pg.psql("rescue", "SELECT count(*) FROM orders"), "20000");
    assert_eq!(
        pg.psql("rescue", "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"),
        "1",
        "only the selected table is restored"
    );
    // ... and copy the lost rows back.
    let lost = pg.psql("rescue", "SELECT count(*) FROM orders WHERE customer < 100");
    assert!(lost.parse::<u32>().unwrap() > 0);
    // Selective restore by schema.
    env.lb()
        .args([
            "restore",
            "postgres",
            &snap,
            "--dsn",
            &pg.dsn("postgres"),
            "--into-database",
            "audit_only",
            "--schema",
            "audit",
        ])
        .assert()
        .success();
    assert_eq!(
        pg.psql("audit_only", "SELECT what FROM audit.log"),
        "created"
    );

    // A failing pg_dump records nothing and reports pg_dump's error.
    let n = env.snapshots().len();
    let out = env
        .lb()
        .args([
            "backup",
            "postgres",
            "--dsn",
            &pg.dsn("postgres"),
            "--database",
            "nope",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pg_dump") && err.contains("nope") && err.contains("no snapshot was written"),
        "{err}"
    );
    assert_eq!(env.snapshots().len(), n);

    // A physical backup of a server that does not archive is refused up front.
    let out = env
        .lb()
        .args([
            "backup",
            "postgres",
            "--physical",
            "--dsn",
            &pg.dsn("postgres"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("archive_mode is off"));
    assert_eq!(env.snapshots().len(), n);

    // Restore verifies the stream.
    env.lb().args(["check", "--read-data"]).assert().success();

    // Backups and restores are journaled (who restored what, into which database).
    let journal = env.lb().args(["journal", "--json"]).output().unwrap();
    let text = String::from_utf8_lossy(&journal.stdout);
    assert!(
        text.contains("rescue") && text.contains("logical"),
        "{text}"
    );
}

#[test]
fn physical_backup_and_point_in_time_restores() {
    let env = Env::new();
    let pg = Cluster::start(&env, "prod", true);
    pg.psql("postgres", "CREATE TABLE t (id int PRIMARY KEY, payload text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g");
    let b = pg.physical_backup(&[]);
    let meta = &b["postgres"];
    assert_eq!(
        meta["format"], "files",
        "the data directory is copied directly"
    );
    assert_eq!(meta["system_identifier"], pg.sysid().as_str());
    assert_eq!(meta["timeline"], 1);
    assert!(meta["stop_lsn"].as_str().unwrap().contains('/'));
    assert!(meta["wal_start_segment"]
        .as_str()
        .unwrap()
        .starts_with("00000001"));

    // Four transactions after the backup; targets between them.
    pg.psql(
        "postgres",
        "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(101, 200) g",
    );
    std::thread::sleep(Duration::from_millis(300));
    let t = pg.psql("postgres", "SELECT clock_timestamp()");
    std::thread::sleep(Duration::from_millis(300));
    pg.psql(
        "postgres",
        "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(201, 300) g",
    );
    pg.psql("postgres", "SELECT pg_create_restore_point('before_400')");
    pg.psql(
        "postgres",
        "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(301, 400) g",
    );
    let lsn = pg.psql("postgres", "SELECT pg_current_wal_lsn()");
    pg.psql(
        "postgres",
        "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(401, 500) g",
    );
    pg.switch_and_wait();
    let full = pg.psql(
        "postgres",
        "SELECT count(*), md5(string_agg(payload, ',' ORDER BY id)) FROM t",
    );

    let (r, rows) = pitr(
        &env,
        "r_time",
        &["--to-time", &t],
        "SELECT count(*), max(id) FROM t",
    );
    assert_eq!(rows, "200|200", "exactly the rows committed before {t}");
    assert_eq!(r["snapshot_id"], b["snapshot_id"]);
    let rec = &r["started"]["recovery"];
    assert!(
        rec["stop_message"]
            .as_str()
            .unwrap()
            .contains("recovery stopping before commit"),
        "{rec}"
    );
    assert!(
        rec["lsn"].as_str().is_some() && rec["timeline"] == 2,
        "{rec}"
    );
    assert!(r["duration_seconds"].as_f64().unwrap() > 0.0);

    let (_, rows) = pitr(
        &env,
        "r_name",
        &["--to-name", "before_400"],
        "SELECT count(*) FROM t",
    );
    assert_eq!(rows, "300");
    let (_, rows) = pitr(&env, "r_lsn", &["--to-lsn", &lsn], "SELECT count(*) FROM t");
    assert_eq!(rows, "400");
    let (_, rows) = pitr(
        &env,
        "r_latest",
        &["--latest"],
        "SELECT count(*), md5(string_agg(payload, ',' ORDER BY id)) FROM t",
    );
    assert_eq!(rows, full, "a full restore has all the data");

    // --listen: the kept server also serves TCP clients (an operator finishing a recovery).
    let tcp_dir = env.path().join("r_tcp");
    let tcp_port = free_port();
    let listen = format!("127.0.0.1:{tcp_port}");
    let r = env.lb_json(&[
        "restore",
        "postgres",
        "--physical",
        "--target-dir",
        tcp_dir.to_str().unwrap(),
        "--latest",
        "--start",
        "--keep-running",
        "--listen",
        &listen,
        "--start-timeout",
        "120",
    ]);
    assert_eq!(r["started"]["port"], tcp_port, "{r}");
    assert_eq!(r["started"]["listen"], "127.0.0.1", "{r}");
    let tcp = r["started"]["tcp_dsn"].as_str().unwrap().to_string() + " user=postgres";
    assert!(tcp.contains("host=127.0.0.1"), "{tcp}");
    let over_tcp = env.run(
        "psql",
        &[
            "-X",
            "-A",
            "-t",
            "-d",
            &tcp,
            "-c",
            "SELECT count(*), md5(string_agg(payload, ',' ORDER BY id)) FROM t",
        ],
    );
    assert_eq!(over_tcp.trim(), full, "served over TCP");
    stop_dir(&env, &tcp_dir);
    // Without --keep-running, --listen is refused (there would be nothing to connect to).
    let out = env
        .lb()
        .args([
            "restore",
            "postgres",
            "--physical",
            "--target-dir",
            env.path().join("r_nolisten").to_str().unwrap(),
            "--latest",
            "--start",
            "--listen",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // A restore that goes live (archiving preserved) continues on timeline 2 in the same
    // archive: its history file and segments are pushed, verify follows the timeline switch, and
    // a later restore to --latest replays into timeline 2.
    let live_dir = env.path().join("r_live");
    let live = env.lb_json(&[
        "restore",
        "postgres",
        "--physical",
        "--target-dir",
        live_dir.to_str().unwrap(),
        "--to-name",
        "before_400",
        "--start",
        "--keep-running",
        "--archive-mode",
        "preserve",
    ]);
    let live_dsn = live["started"]["dsn"].as_str().unwrap().to_string() + " user=postgres";
    let q = |sql: &str| {
        env.run(
            "psql",
            &[
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &live_dsn,
                "-c",
                sql,
            ],
        )
        .trim()
        .to_string()
    };
    q("INSERT INTO t VALUES (-1, 'on timeline 2')");
    let seg = q("SELECT pg_walfile_name(pg_switch_wal())");
    assert!(seg.starts_with("00000002"), "{seg}");
    let t0 = Instant::now();
    while q("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").as_str() < seg.as_str()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timeline 2 not archived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop_dir(&env, &live_dir);
    let v = env.lb_json(&["wal", "verify"]);
    assert_eq!(v["ok"], true, "{v}");
    let tls: Vec<u64> = v["timelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["timeline"].as_u64().unwrap())
        .collect();
    assert!(tls.contains(&1) && tls.contains(&2), "{v}");
    let (_, rows) = pitr(
        &env,
        "r_tl2",
        &["--latest"],
        "SELECT count(*), min(id) FROM t",
    );
    assert_eq!(rows, "301|-1", "recovery followed timeline 2");

    // Targets outside the archive are refused before anything is written.
    for (target, why) in [
        (
            vec!["--to-time", "2000-01-01T00:00:00Z"],
            "before the end of the oldest base backup",
        ),
        (
            vec!["--to-time", "2999-01-01T00:00:00Z"],
            "after the newest archived WAL",
        ),
        (vec!["--to-lsn", "FF/0"], "after the newest archived WAL"),
    ] {
        let dir = env.path().join("refused");
        let out = env
            .lb()
            .args([
                "restore",
                "postgres",
                "--physical",
                "--target-dir",
                dir.to_str().unwrap(),
            ])
            .args(&target)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{target:?}: {err}");
        assert!(!dir.exists(), "nothing written for {target:?}");
    }

    // A restore without --start leaves a directory ready for pg_ctl with the settings written.
    let dir = env.path().join("manual");
    env.lb()
        .args([
            "restore",
            "postgres",
            "--physical",
            "--target-dir",
            dir.to_str().unwrap(),
            "--to-lsn",
            &lsn,
        ])
        .assert()
        .success();
    assert!(dir.join("recovery.signal").exists());
    let auto = std::fs::read_to_string(dir.join("postgresql.auto.conf")).unwrap();
    assert!(
        auto.contains("wal-fetch %f %p")
            && auto.contains(&format!("recovery_target_lsn = '{lsn}'")),
        "{auto}"
    );
    // A non-empty target is refused.
    let out = env
        .lb()
        .args([
            "restore",
            "postgres",
            "--physical",
            "--target-dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

#[test]
fn wal_push_idempotency_conflicts_and_foreign_systems() {
    let env = Env::new();
    let pg = Cluster::start(&env, "a", true);
    pg.psql(
        "postgres",
        "CREATE TABLE x AS SELECT g FROM generate_series(1, 1000) g",
    );
    pg.switch_and_wait();
    let name = pg.psql("postgres", "SELECT last_archived_wal FROM pg_stat_archiver");
    let sysid = pg.sysid();

    // Fetch it back, then push the same bytes again: accepted.
    let copy = env.path().join("copy").join(&name);
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    if let Some((u, g)) = env.user {
        std::os::unix::fs::chown(copy.parent().unwrap(), Some(u), Some(g)).unwrap();
    }
    env.lb()
        .args([
            "wal-fetch",
            "--system-id",
            &sysid,
            &name,
            copy.to_str().unwrap(),
        ])
        .assert()
        .success();
    let original = std::fs::read(&copy).unwrap();
    assert_eq!(original.len(), 16 << 20);
    let out = env.lb_json(&["wal-push", copy.to_str().unwrap()]);
    assert_eq!(out["pushed"]["stored"], false, "{out}");

    // Different content under the same name: refused loudly, archive unchanged.
    let mut changed = original.clone();
    changed[100_000] ^= 0xff;
    std::fs::write(&copy, &changed).unwrap();
    let out = env
        .lb()
        .args(["wal-push", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds a different"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = env.path().join("copy").join("again");
    env.lb()
        .args([
            "wal-fetch",
            "--system-id",
            &sysid,
            &name,
            again.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert_eq!(std::fs::read(&again).unwrap(), original);

    // A segment of another cluster: refused for this cluster name, and by --system-id.
    let other = Cluster::start(&env, "b", false);
    other.psql("postgres", "SELECT 1");
    let mut seg: Vec<PathBuf> = std::fs::read_dir(other.data.join("pg_wal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().len() == 24)
        .collect();
    seg.sort();
    let foreign = &seg[0];
    let out = env
        .lb()
        .args(["wal-push", foreign.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("belongs to database system") && err.contains(&sysid),
        "{err}"
    );
    let out = env
        .lb()
        .args([
            "wal-push",
            "--cluster",
            "other",
            "--system-id",
            &sysid,
            foreign.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Under its own cluster name it is accepted.
    env.lb()
        .args(["wal-push", "--cluster", "other", foreign.to_str().unwrap()])
        .assert()
        .success();

    // A server whose archiving is failing: a physical backup is refused up front (pg_basebackup
    // would otherwise wait forever for the WAL to be archived).
    let broken = Cluster::start(&env, "c", true);
    broken.psql("postgres", "ALTER SYSTEM SET archive_command = 'false'");
    broken.psql("postgres", "SELECT pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(300));
    broken.psql(
        "postgres",
        "CREATE TABLE y AS SELECT 1 AS a; SELECT pg_switch_wal()",
    );
    let t0 = Instant::now();
    while broken.psql("postgres", "SELECT failed_count FROM pg_stat_archiver") == "0" {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "archiver never failed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let n = env.snapshots().len();
    let out = env
        .lb()
        .args([
            "backup",
            "postgres",
            "--physical",
            "--cluster",
            "c",
            "--dsn",
            &broken.dsn("postgres"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("archiving is failing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.snapshots().len(), n);
    drop(broken);

    // A renamed segment is refused (its header names another position).
    let renamed = env.path().join("copy").join("000000010000000000000042");
    std::fs::write(&renamed, &original).unwrap();
    let out = env
        .lb()
        .args(["wal-push", renamed.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // History files are archived and fetched too.
    let hist = env.path().join("copy").join("00000002.history");
    std::fs::write(
        &hist,
        format!("1\t0/{:X}\tno recovery target specified\n", 0x5000000),
    )
    .unwrap();
    env.lb()
        .args(["wal-push", hist.to_str().unwrap()])
        .assert()
        .success();
    let back = env.path().join("copy").join("hist-back");
    env.lb()
        .args([
            "wal-fetch",
            "--system-id",
            &sysid,
            "00000002.history",
            back.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&hist).unwrap());

    // A frozen (read-only) repository refuses WAL until it is thawed.
    env.lb().args(["mode", "read-only"]).assert().success();
    let out = env
        .lb()
        .args(["wal-push", hist.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
    env.lb().args(["mode", "normal"]).assert().success();
    env.lb()
        .args(["wal-push", hist.to_str().unwrap()])
        .assert()
        .success();

    // A missing file: exit 1, quietly (PostgreSQL probes for files that do not exist).
    let out = env
        .lb()
        .args([
            "wal-fetch",
            "--system-id",
            &sysid,
            "00000009.history",
            back.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The key cache: the second call uses it, and a wrong password does not.
    let cache = env.path().join("keycache");
    let out = env
        .lb()
        .args(["wal-push", "--key-cache", cache.to_str().unwrap(), "--json"])
        .arg(&hist)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["key_source"], "Password");
    let v = env.lb_json(&[
        "wal-push",
        "--key-cache",
        cache.to_str().unwrap(),
        hist.to_str().unwrap(),
    ]);
    assert_eq!(v["key_source"], "Cache");
    let mode = std::fs::metadata(
        std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path(),
    )
    .unwrap()
    .mode();
    assert_eq!(mode & 0o777, 0o600);
    env.lb()
        .env("LIFEBOAT_PASSWORD", "wrong")
        .args([
            "wal-push",
            "--key-cache",
            cache.to_str().unwrap(),
            hist.to_str().unwrap(),
        ])
        .assert()
        .failure();
}

#[test]
fn continuity_gaps_expiry_and_dedup_of_base_backups() {
    let env = Env::new();
    let pg = Cluster::start(&env, "db", true);
    // ~40 MB of table data.
    pg.psql("postgres", "CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('y', 300) AS v FROM generate_series(1, 120000) g");
    pg.psql("postgres", "CHECKPOINT");
    // Files last written more than a second before a backup starts can be proven unchanged
    // by the next one.
    std::thread::sleep(Duration::from_millis(1500));
    let b1 = pg.physical_backup(&[]);
    for i in 0..3 {
        pg.psql(
            "postgres",
            &format!("INSERT INTO big VALUES ({}, 'more')", 1_000_000 + i),
        );
        pg.switch_and_wait();
    }
    // A second base backup of the (nearly) unchanged cluster adds little.
    let b2 = pg.physical_backup(&[]);
    let first = b1["summary"]["bytes_added"].as_u64().unwrap();
    let second = b2["summary"]["bytes_added"].as_u64().unwrap();
    let total = b2["summary"]["total_bytes"].as_u64().unwrap();
    eprintln!("base backup of {total} bytes: first added {first}, second added {second}");
    assert!(
        second * 20 < total,
        "second base backup added {second} of {total} bytes"
    );
    // The second backup reads only what changed: the catalog files untouched since before the
    // first one are taken from it (the table that got rows is read again, and the restore
    // from this backup below has those rows).
    let s2 = &b2["summary"];
    assert_eq!(b2["postgres"]["format"], "files");
    assert!(s2["files_unchanged"].as_u64().unwrap() > 100, "{s2}");
    assert!(
        s2["bytes_read"].as_u64().unwrap() < total,
        "unchanged files were not read again: {s2}"
    );
    let forced = pg.physical_backup(&["--force"]);
    assert_eq!(
        forced["summary"]["files_unchanged"], 0,
        "--force reads every file"
    );
    env.lb()
        .args(["forget", forced["snapshot_id"].as_str().unwrap()])
        .assert()
        .success();
    for i in 0..2 {
        pg.psql(
            "postgres",
            &format!("INSERT INTO big VALUES ({}, 'after')", 2_000_000 + i),
        );
        pg.switch_and_wait();
    }
    let v = env.lb_json(&["wal", "verify"]);
    assert_eq!(v["ok"], true, "{v}");
    let show = env.lb_json(&["wal", "show"]);
    let c = &show["clusters"][0];
    assert_eq!(c["newest_segment"], v["newest_segment"]);
    assert!(c["newest_age_seconds"].as_f64().unwrap() < 120.0, "{c}");

    // Forget the first base backup and prune: WAL before the second one's start expires, the
    // WAL the second one needs stays (a restore from it still works).
    let sysid = pg.sysid();
    let wal_dir = env.repo().join("wal").join(&sysid).join("00000001");
    let count = || std::fs::read_dir(&wal_dir).unwrap().count();
    let before = count();
    let b1_id = b1["snapshot_id"].as_str().unwrap();
    let start1 = b1["postgres"]["wal_start_segment"].as_str().unwrap();
    let dry = env.lb_json(&["wal", "expire", "--dry-run"]);
    for n in dry["clusters"][0]["deleted"].as_array().unwrap() {
        assert!(
            n.as_str().unwrap() < start1,
            "{n} is needed by the first backup"
        );
    }
    assert_eq!(count(), before, "a dry run deletes nothing");
    env.lb().args(["forget", b1_id]).assert().success();
    env.lb().args(["prune"]).assert().success();
    let start2 = b2["postgres"]["wal_start_segment"].as_str().unwrap();
    let after = count();
    assert!(after < before, "old WAL expired ({before} -> {after})");
    for e in std::fs::read_dir(&wal_dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(
            n.as_str() >= start2,
            "{n} is older than the kept backup's start {start2}"
        );
    }
    assert!(wal_dir.join(start2).exists());
    let (_, rows) = pitr(
        &env,
        "after_expiry",
        &["--latest"],
        "SELECT count(*) FROM big",
    );
    assert_eq!(rows, "120005");

    // Delete an archived segment after the kept backup: verify reports the gap.
    let newest = v["newest_segment"].as_str().unwrap();
    let victim = {
        let mut names: Vec<String> = std::fs::read_dir(&wal_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 24 && n.as_str() > start2 && n.as_str() < newest)
            .collect();
        names.sort();
        names
            .pop()
            .expect("a segment between the backup and the newest one")
    };
    std::fs::remove_file(wal_dir.join(&victim)).unwrap();
    let out = env.lb().args(["wal", "verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gaps"][0]["from"], victim.as_str(), "{v}");
    assert_eq!(v["gaps"][0]["missing"], 1);
}

#[test]
fn base_backup_methods_copy_and_pg_basebackup_restore_the_same_data() {
    let env = Env::new();
    let pg = Cluster::start(&env, "methods", true);
    pg.psql("postgres", "CREATE TABLE m (id int PRIMARY KEY, v text); INSERT INTO m SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g");
    let copy = pg.physical_backup(&["--method", "copy"]);
    assert_eq!(copy["postgres"]["format"], "files", "{copy}");
    let tar = pg.physical_backup(&["--method", "pg_basebackup"]);
    assert_eq!(tar["postgres"]["format"], "tar", "{tar}");
    // The default (auto) copies when the data directory is readable here.
    let auto = pg.physical_backup(&[]);
    assert_eq!(auto["postgres"]["format"], "files", "{auto}");
    let expected = pg.psql(
        "postgres",
        "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM m",
    );
    pg.switch_and_wait();

    // A copied data directory holds the backup's label, and none of the server's runtime files.
    let dir = env.path().join("copied");
    env.lb()
        .args([
            "restore",
            "postgres",
            "--physical",
            "--target-dir",
            dir.to_str().unwrap(),
            "--latest",
            "--snapshot",
            copy["snapshot_id"].as_str().unwrap(),
        ])
        .assert()
        .success();
    let label = std::fs::read_to_string(dir.join("backup_label")).unwrap();
    assert!(
        label.contains(&format!(
            "START WAL LOCATION: {}",
            copy["postgres"]["start_lsn"].as_str().unwrap()
        )),
        "{label}"
    );
    assert!(!dir.join("postmaster.pid").exists());
    assert!(dir.join("global/pg_control").exists());
    assert!(dir.join("pg_wal/archive_status").is_dir());
    let segments = std::fs::read_dir(dir.join("pg_wal"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().len() == 24)
        .count();
    assert_eq!(segments, 0, "WAL comes from the archive, not the copy");
    std::fs::remove_dir_all(&dir).unwrap();

    for (name, b) in [("from_copy", &copy), ("from_tar", &tar)] {
        let (r, rows) = pitr(
            &env,
            name,
            &["--latest", "--snapshot", b["snapshot_id"].as_str().unwrap()],
            "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM m",
        );
        assert_eq!(r["snapshot_id"], b["snapshot_id"]);
        assert_eq!(rows, expected, "{name} restores every row");
    }

    // Replication: `copy` into a second repository (other password, other keys) takes the
    // cluster's WAL archive along, so the copy restores to the latest point on its own.
    let repo2 = env.path().join("repo2");
    let in_repo2 = |c: &mut Command| {
        c.env("LIFEBOAT_REPOSITORY", &repo2)
            .env("LIFEBOAT_PASSWORD", "second password");
    };
    let mut init2 = env.lb();
    in_repo2(&mut init2);
    init2.arg("init").assert().success();
    let copy_json = || -> Value {
        let out = env
            .lb()
            .env("LIFEBOAT_TO_PASSWORD", "second password")
            .args(["copy", "--to", repo2.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let c1 = copy_json();
    let copied = c1["wal"][0]["copied"].as_u64().unwrap();
    assert!(copied >= 3, "{c1}");
    assert_eq!(c1["wal"][0]["system_identifier"], pg.sysid().as_str());
    let c2 = copy_json();
    assert_eq!(c2["wal"][0]["copied"], 0, "{c2}");
    assert_eq!(c2["wal"][0]["present"].as_u64().unwrap(), copied, "{c2}");
    let target = env.path().join("from_repo2");
    let mut restore2 = env.lb();
    in_repo2(&mut restore2);
    let out = restore2
        .args([
            "restore",
            "postgres",
            "--physical",
            "--target-dir",
            target.to_str().unwrap(),
            "--latest",
            "--start",
            "--keep-running",
            "--start-timeout",
            "120",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r2: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dsn2 = r2["started"]["dsn"].as_str().unwrap().to_string() + " user=postgres";
    let rows = env.run(
        "psql",
        &[
            "-X",
            "-A",
            "-t",
            "-d",
            &dsn2,
            "-c",
            "SELECT count(*), md5(string_agg(v, ',' ORDER BY id)) FROM m",
        ],
    );
    stop_dir(&env, &target);
    assert_eq!(rows.trim(), expected, "the copy restores every row");

    // A file lifeboat may not read fails the copy with its path; nothing is recorded.
    let before = env.snapshots().len();
    let locked = pg.data.join("locked.conf");
    std::fs::write(&locked, "# not readable\n").unwrap();
    if let Some((u, g)) = env.user {
        std::os::unix::fs::chown(&locked, Some(u), Some(g)).unwrap();
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = env
        .lb()
        .args([
            "backup",
            "postgres",
            "--physical",
            "--dsn",
            &pg.dsn("postgres"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("locked.conf") && err.contains("no snapshot was written"),
        "{err}"
    );
    assert_eq!(env.snapshots().len(), before, "nothing recorded");
    std::fs::remove_file(&locked).unwrap();
    env.lb().args(["check"]).assert().success();

    // --method copy cannot include WAL (pg_basebackup's tar does that).
    let out = env
        .lb()
        .args([
            "backup",
            "postgres",
            "--physical",
            "--method",
            "copy",
            "--include-wal",
            "--dsn",
            &pg.dsn("postgres"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--method pg_basebackup"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kill_9_during_a_copy_base_backup_ends_the_servers_backup_and_records_nothing() {
    let env = Env::new();
    let pg = Cluster::start(&env, "crash", true);
    pg.psql(
        "postgres",
        "CREATE TABLE c AS SELECT g AS id FROM generate_series(1, 1000) g",
    );
    // A large sparse file in the data directory keeps the copy busy for seconds: one byte every
    // 768 KiB, so no hole is large enough to be skipped unread (sparse backup skips holes of
    // 1 MiB and more) and all 24 GiB are read.
    let sparse = pg.data.join("sparse.bin");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&sparse).unwrap();
        f.set_len(24 << 30).unwrap();
        for off in (0..24u64 << 30).step_by(768 << 10) {
            f.write_all_at(b"x", off).unwrap();
        }
    }
    if let Some((u, g)) = env.user {
        std::os::unix::fs::chown(&sparse, Some(u), Some(g)).unwrap();
    }
    let before = env.snapshots().len();
    let in_backup = || {
        pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE query ~ '^SELECT pg_(backup_start|start_backup)'",
        )
    };
    let mut child = env
        .cmd(env!("CARGO_BIN_EXE_lifeboat"))
        .args([
            "backup",
            "postgres",
            "--physical",
            "--method",
            "copy",
            "--dsn",
            &pg.dsn("postgres"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while in_backup() != "1" {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the backup never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the copy finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // psql loses its input with lifeboat gone, so the session and its backup end.
    let t0 = Instant::now();
    while in_backup() != "0" {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the server still holds the killed backup's session"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(env.snapshots().len(), before, "nothing recorded");
    env.lb().arg("check").assert().success();
    // The next backup works (the dead process's lock is stale).
    std::fs::remove_file(&sparse).unwrap();
    let b = pg.physical_backup(&[]);
    assert_eq!(b["postgres"]["format"], "files");
    assert_eq!(env.snapshots().len(), before + 1);
}

#[test]
fn tablespaces_are_copied_and_restored_to_their_place_or_a_mapped_one() {
    let env = Env::new();
    let pg = Cluster::start(&env, "spaces", true);
    let ts_dir = env.path().join("ts1");
    std::fs::create_dir(&ts_dir).unwrap();
    if let Some((u, g)) = env.user {
        std::os::unix::fs::chown(&ts_dir, Some(u), Some(g)).unwrap();
    }
    std::fs::set_permissions(&ts_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    pg.psql(
        "postgres",
        &format!("CREATE TABLESPACE ts1 LOCATION '{}'", ts_dir.display()),
    );
    pg.psql("postgres", "CREATE TABLE tt (id int, v text) TABLESPACE ts1; INSERT INTO tt SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
    let oid = pg.psql(
        "postgres",
        "SELECT oid FROM pg_tablespace WHERE spcname = 'ts1'",
    );
    let b = pg.physical_backup(&[]);
    let spaces = &b["postgres"]["tablespaces"];
    assert_eq!(spaces[0]["oid"], oid.as_str(), "{b}");
    assert_eq!(spaces[0]["path"], ts_dir.to_str().unwrap());
    pg.psql(
        "postgres",
        "INSERT INTO tt SELECT g, md5(g::text) FROM generate_series(5001, 10000) g",
    );
    pg.switch_and_wait();

    // The original location is in use: refused before anything is written, naming the way out.
    let refused = env.path().join("refused");
    let out = env
        .lb()
        .args([
            "restore",
            "postgres",
            "--physical",
            "--latest",
            "--target-dir",
            refused.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("not empty") && err.contains(&format!("--tablespace-map {oid}=DIR")),
        "{err}"
    );
    assert!(!refused.exists(), "nothing written");
    let out = env
        .lb()
        .args([
            "restore",
            "postgres",
            "--physical",
            "--latest",
            "--tablespace-map",
            "99999=/tmp/x",
            "--target-dir",
            refused.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no tablespace with OID 99999"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Mapped elsewhere: the tablespace's rows (also those from the WAL) are there.
    let moved = env.path().join("ts1_restored");
    let (r, rows) = pitr(
        &env,
        "with_ts",
        &[
            "--latest",
            "--tablespace-map",
            &format!("{oid}={}", moved.display()),
        ],
        &format!("SELECT count(*), pg_tablespace_location({oid}) FROM tt"),
    );
    assert_eq!(rows, format!("10000|{}", moved.display()));
    assert_eq!(r["tablespaces"][0]["path"], moved.to_str().unwrap());
    assert_eq!(
        std::fs::read_link(env.path().join("with_ts/pg_tblspc").join(&oid)).unwrap(),
        moved
    );
}

#[test]
fn start_as_root_runs_the_restored_server_as_the_database_user() {
    let env = Env::new();
    let pg = Cluster::start(&env, "rooted", true);
    pg.psql(
        "postgres",
        "CREATE TABLE r AS SELECT g AS id FROM generate_series(1, 777) g",
    );
    pg.physical_backup(&[]);
    pg.switch_and_wait();
    let lb_self = || Command::from_std(env.cmd_as_self(env!("CARGO_BIN_EXE_lifeboat")));
    let dir = env.path().join("as_root");
    let restore = |extra: &[&str]| {
        lb_self()
            .args([
                "restore",
                "postgres",
                "--physical",
                "--latest",
                "--target-dir",
                dir.to_str().unwrap(),
                "--start",
                "--keep-running",
                "--json",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let Some((uid, _)) = env.user else {
        // Not root: --run-as is refused, since only root can start the server as another user.
        let out = restore(&["--run-as", "postgres"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("needs lifeboat to run as root"));
        return;
    };
    let name = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap();
    // An unknown user is refused before anything is written.
    let out = restore(&["--run-as", "no-such-user-for-lifeboat"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no user 'no-such-user-for-lifeboat'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.exists());
    // As root, the server runs as the database user, who now owns the directory.
    let out = restore(&["--run-as", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["started"]["run_as"], name.as_str(), "{r}");
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), uid);
    let dsn = r["started"]["dsn"].as_str().unwrap().to_string() + " user=postgres";
    let rows = env.run(
        "psql",
        &["-X", "-A", "-t", "-d", &dsn, "-c", "SELECT count(*) FROM r"],
    );
    stop_dir(&env, &dir);
    assert_eq!(rows.trim(), "777");
}

/// `archive_command = 'lifeboat --config FILE wal-push %p'` with no LIFEBOAT_* variable in the
/// server's environment: the configuration's postgres-physical source (matched by its
/// data_directory) names the repository, its password file and the cluster; base backups run
/// as `backup --source`, and a point-in-time restore's wal-fetch finds everything through the
/// same file. A PostgreSQL command blocked by a lock exits 11 like any other.
#[test]
fn wal_push_and_fetch_work_with_nothing_but_the_configuration_file() {
    let env = Env::new();
    let pg = Cluster::start(&env, "cfgpg", false);
    let pass = env.path().join("repo.pass");
    std::fs::write(&pass, format!("{PASSWORD}\n")).unwrap();
    let cfg = env.path().join("lifeboat.toml");
    std::fs::write(
        &cfg,
        format!(
            "[repositories.main]\nurl = \"{repo}\"\npassword_file = \"{pass}\"\n\n\
             [sources.pg]\nkind = \"postgres-physical\"\ndsn = \"{dsn}\"\ncluster = \"cfg\"\n\
             data_directory = \"{data}\"\nrepository = \"main\"\n",
            repo = env.repo().display(),
            pass = pass.display(),
            dsn = pg.dsn("postgres"),
            data = pg.data.display()
        ),
    )
    .unwrap();
    for f in [&cfg, &pass] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some((u, g)) = env.user {
            std::os::unix::fs::chown(f, Some(u), Some(g)).unwrap();
        }
    }
    env.run(
        "pg_ctl",
        &["-D", pg.data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
    );
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(pg.data.join("postgresql.conf"))
        .unwrap();
    std::io::Write::write_all(
        &mut conf,
        format!(
            "archive_mode = on\narchive_command = '{} --config {} wal-push %p'\n",
            env!("CARGO_BIN_EXE_lifeboat"),
            cfg.display()
        )
        .as_bytes(),
    )
    .unwrap();
    let log = env.path().join("cfgpg.log");
    let started = env
        .cmd(env.bin.join("pg_ctl"))
        .env_remove("LIFEBOAT_REPOSITORY")
        .env_remove("LIFEBOAT_PASSWORD")
        .args([
            "-D",
            pg.data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ])
        .status()
        .unwrap();
    assert!(started.success());
    // Only the configuration file from here on.
    let bare = || {
        let mut c = env.lb();
        c.env_remove("LIFEBOAT_REPOSITORY")
            .env_remove("LIFEBOAT_PASSWORD")
            .env("LIFEBOAT_CONFIG", &cfg);
        c
    };
    pg.psql(
        "postgres",
        "CREATE TABLE t(i int); INSERT INTO t SELECT generate_series(1, 500)",
    );
    let out = bare()
        .args(["backup", "--source", "pg", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let backup: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(backup["postgres"]["cluster"], "cfg");
    pg.psql("postgres", "INSERT INTO t SELECT generate_series(501, 800)");
    pg.switch_and_wait();
    let show: Value = serde_json::from_slice(
        &bare()
            .args(["wal", "show", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let c = &show["clusters"][0];
    assert_eq!(c["cluster"], "cfg", "{show}");
    assert!(c["files"].as_u64().unwrap() >= 2, "{show}");
    let target = env.path().join("cfg-restored");
    let out = bare()
        .args([
            "restore",
            "postgres",
            "--physical",
            "--target-dir",
            target.to_str().unwrap(),
        ])
        .args([
            "--start",
            "--keep-running",
            "--start-timeout",
            "120",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["settings"].to_string().contains("--config"),
        "restore_command names the configuration file: {report}"
    );
    let dsn = report["started"]["dsn"].as_str().unwrap().to_string() + " user=postgres";
    let n = env.run(
        "psql",
        &["-X", "-A", "-t", "-d", &dsn, "-c", "SELECT count(*) FROM t"],
    );
    assert_eq!(
        n.trim(),
        "800",
        "replayed through wal-fetch with only the configuration file"
    );
    stop_dir(&env, &target);

    // Blocked by an exclusive lock: exit 11, whichever crate raised it.
    let storage = lifeboat_storage::choose::open(&env.repo().display().to_string()).unwrap();
    std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
    let repo = lifeboat_core::Repository::open(storage, PASSWORD.as_bytes()).unwrap();
    let held = lifeboat_core::lock::acquire(&repo, true, "test", Duration::ZERO).unwrap();
    for args in [
        vec!["backup", "--source", "pg"],
        vec!["backup", "postgres", "--dsn", &pg.dsn("postgres")],
    ] {
        let out = bare()
            .env("LIFEBOAT_LOCK_WAIT", "0")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(11),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(held);
}
