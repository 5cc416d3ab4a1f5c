//! The drill checks against a real PostgreSQL cluster (initdb in a temp dir, unix socket only,
//! free port), started once for the whole file: one `#[test]` runs every case in sequence,
//! each in a database of its own, and stops the cluster at the end whatever happened.
//!
//! PostgreSQL must be installed (Debian: `apt-get install postgresql`); a missing installation
//! fails this test, it never skips it. PostgreSQL refuses to run as root, so when the test runs
//! as root the server (initdb, pg_ctl) runs as the `postgres` user (or `lifeboat-test`,
//! created when neither exists); psql and the checks connect as root over the socket.

use lifeboat_config::{Check, CheckKind, HashAlgorithm, RowCountExpect};
use lifeboat_core::cancel::CancelToken;
use lifeboat_drill::checks::{run_check, CheckResult, PgConn, Subject, Verdict};
use lifeboat_postgres::tools::PgTools;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bindir() -> PathBuf {
    if let Some(d) = std::env::var_os("LIFEBOAT_PG_BINDIR") {
        return PathBuf::from(d);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if d.join("initdb").exists() {
            return d;
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).expect(
        "PostgreSQL server programs (initdb, pg_ctl) not found: install PostgreSQL (apt-get install postgresql) or set LIFEBOAT_PG_BINDIR; these tests do not skip",
    )
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() > 3 && f[0] == name {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// The (uid, gid) to run the server as when we are root.
fn run_as() -> Option<(u32, u32)> {
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if euid != 0 {
        return None;
    }
    if let Some(u) = lookup_user("postgres").or_else(|| lookup_user("lifeboat-test")) {
        return Some(u);
    }
    let _ = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "lifeboat-test",
        ])
        .status();
    Some(lookup_user("lifeboat-test").expect("running as root and no unprivileged user to run PostgreSQL as (creating lifeboat-test failed)"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running throwaway cluster; dropping it stops the server (then removes its directory).
struct Cluster {
    dir: tempfile::TempDir,
    user: Option<(u32, u32)>,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("lbchecks")
            .tempdir_in("/tmp")
            .unwrap();
        let user = run_as();
        if let Some((u, g)) = user {
            std::os::unix::fs::chown(dir.path(), Some(u), Some(g)).unwrap();
        }
        let c = Cluster {
            dir,
            user,
            bin: bindir(),
            port: free_port(),
        };
        let data = c.data();
        c.server_cmd(
            "initdb",
            &[
                "-N",
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
                "-D",
                data.to_str().unwrap(),
            ],
        );
        let conf = format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{}'\nport = {}\nfsync = off\nshared_buffers = 32MB\nlc_messages = 'C'\n",
            c.sock().display(),
            c.port
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
        let log = c.dir.path().join("server.log");
        c.server_cmd(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn sock(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a server program as the server's user.
    fn server_cmd(&self, program: &str, args: &[&str]) {
        let mut c = Command::new(self.bin.join(program));
        c.args(args)
            .current_dir(self.dir.path())
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if let Some((u, g)) = self.user {
            c.uid(u).gid(g);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn dsn(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.sock().display(),
            self.port
        )
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.dsn(db))
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A fresh copy of the `shop` database.
    fn copy_of_shop(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name} TEMPLATE shop"));
        name.to_string()
    }

    fn subject(&self, db: &str) -> Subject {
        Subject {
            pg: Some(PgConn {
                tools: PgTools::locate(None),
                socket_dir: self.sock().to_path_buf(),
                port: self.port,
                user: "postgres".into(),
            }),
            database: db.into(),
            ..Subject::default()
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut c = Command::new(self.bin.join("pg_ctl"));
        c.args([
            "-D",
            self.data().to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some((u, g)) = self.user {
            c.uid(u).gid(g);
        }
        let _ = c.status();
    }
}

/// The `shop` database: an event store with a correct SHA-256 chain per tenant.
fn create_shop(pg: &Cluster) {
    pg.psql("postgres", "CREATE DATABASE shop");
    pg.psql(
        "shop",
        r#"
CREATE TABLE events (tenant_id int, stream text, seq int, created_at timestamptz, event_type text,
                     payload jsonb, prev_hash text, event_hash text);
INSERT INTO events (tenant_id, stream, seq, created_at, event_type, payload)
SELECT t, 'stream-' || t, s,
       timestamptz '2026-01-01 00:00:00+00' + s * interval '1 minute' + t * interval '1 second',
       (ARRAY['order_placed', 'payment_received', 'order_shipped'])[1 + s % 3],
       jsonb_build_object('amount', s * 10, 'tenant', t,
                          'note', 'line "' || s || E'"\n\ttab \\ back café ✓')
FROM generate_series(1, 3) AS t, generate_series(1, 200) AS s;
DO $$
DECLARE r record; h text; cur int;
BEGIN
  FOR r IN SELECT ctid AS id, * FROM events ORDER BY tenant_id, created_at LOOP
    IF cur IS DISTINCT FROM r.tenant_id THEN h := repeat('0', 64); cur := r.tenant_id; END IF;
    UPDATE events SET prev_hash = h,
           event_hash = encode(sha256(convert_to(h || r.event_type || r.tenant_id || r.payload::text, 'UTF8')), 'hex')
     WHERE ctid = r.id RETURNING event_hash INTO h;
  END LOOP;
END $$;
CREATE INDEX ON events (tenant_id, created_at);
CREATE SCHEMA audit;
CREATE TABLE audit.log (at timestamptz, what text);
INSERT INTO audit.log SELECT now(), 'entry ' || g FROM generate_series(1, 5) g;
"#,
    );
}

fn check(kind: CheckKind, db: &str) -> Check {
    Check {
        name: format!("{} test", kind.name()),
        database: Some(db.to_string()),
        line: 1,
        kind,
    }
}

fn run(pg: &Cluster, db: &str, kind: CheckKind) -> CheckResult {
    run_check(&check(kind, db), &pg.subject(db), &CancelToken::new())
}

fn chain(table: &str) -> CheckKind {
    CheckKind::HashChain {
        table: table.into(),
        partition_by: vec!["tenant_id".into()],
        order_by: "created_at".into(),
        hash: "event_hash".into(),
        prev: "prev_hash".into(),
        input: "prev_hash || event_type || tenant_id || payload::text".into(),
        genesis: "0".repeat(64),
        algorithm: HashAlgorithm::Sha256,
    }
}

fn gaps(partition_by: &[&str]) -> CheckKind {
    CheckKind::SequenceGaps {
        table: "events".into(),
        partition_by: partition_by.iter().map(|s| s.to_string()).collect(),
        sequence: "seq".into(),
        start: 1,
    }
}

#[track_caller]
fn passed(r: &CheckResult) -> &str {
    assert_eq!(r.result, Verdict::Passed, "expected a pass: {}", r.detail);
    &r.detail
}

#[track_caller]
fn failed(r: &CheckResult) -> &str {
    assert_eq!(
        r.result,
        Verdict::Failed,
        "expected a failure: {}",
        r.detail
    );
    &r.detail
}

#[track_caller]
fn has(detail: &str, parts: &[&str]) {
    for p in parts {
        assert!(detail.contains(p), "{p:?} not in detail: {detail}");
    }
}

fn good_chain_passes(pg: &Cluster) {
    let r = run(pg, "shop", chain("events"));
    has(passed(&r), &["600 rows in 3 partitions"]);
    // The whole table as one chain is broken at each tenant's first row.
    let mut one = chain("public.events");
    if let CheckKind::HashChain { partition_by, .. } = &mut one {
        partition_by.clear();
    }
    has(
        failed(&run(pg, "shop", one)),
        &[
            "prev does not match the previous row's hash",
            "more broken rows",
        ],
    );
}

fn tampered_payload_fails_naming_tenant_row_and_hash(pg: &Cluster) {
    let db = pg.copy_of_shop("tampered");
    pg.psql(
        &db,
        "UPDATE events SET payload = jsonb_set(payload, '{amount}', '999999') WHERE tenant_id = 2 AND seq = 5",
    );
    let r = run(pg, &db, chain("events"));
    has(
        failed(&r),
        &[
            "broken at 1 of 600 rows",
            "tenant_id=2 at created_at=2026-01-01 00:05:02+00",
            "hash is not the SHA-256 of input",
        ],
    );
    assert!(!r.detail.contains("prev does not match"), "{}", r.detail);
}

fn broken_prev_link_fails_naming_prev(pg: &Cluster) {
    let db = pg.copy_of_shop("relinked");
    pg.psql(
        &db,
        "UPDATE events SET prev_hash = repeat('f', 64) WHERE tenant_id = 3 AND seq = 10",
    );
    let r = run(pg, &db, chain("events"));
    has(
        failed(&r),
        &[
            "tenant_id=3 at created_at=2026-01-01 00:10:03+00",
            "prev does not match the previous row's hash",
            "1 prev mismatch, 1 hash mismatch",
        ],
    );
    // A recomputed hash cannot hide a broken link.
    pg.psql(
        &db,
        "UPDATE events SET event_hash = encode(sha256(convert_to(prev_hash || event_type || tenant_id || payload::text, 'UTF8')), 'hex') WHERE tenant_id = 3 AND seq = 10",
    );
    let r = run(pg, &db, chain("events"));
    has(
        failed(&r),
        &[
            "broken at 2 of 600 rows",
            "tenant_id=3 at created_at=2026-01-01 00:10:03+00: prev does not match",
            "tenant_id=3 at created_at=2026-01-01 00:11:03+00: prev does not match",
        ],
    );
}

fn deleted_event_fails_sequence_gaps_naming_stream_and_number(pg: &Cluster) {
    let db = pg.copy_of_shop("deleted");
    has(
        passed(&run(pg, &db, gaps(&["stream"]))),
        &["600 rows in 3 partitions, no gaps or duplicates"],
    );
    pg.psql(&db, "DELETE FROM events WHERE tenant_id = 1 AND seq = 50");
    let d = run(pg, &db, gaps(&["stream"])).detail;
    has(
        &d,
        &[
            "1 of 3 partitions",
            "stream=stream-1: first missing number is 50",
        ],
    );
    // A partition that does not start at `start`.
    pg.psql(&db, "DELETE FROM events WHERE tenant_id = 2 AND seq = 1");
    let r = run(pg, &db, gaps(&["tenant_id", "stream"]));
    has(
        failed(&r),
        &[
            "2 of 3 partitions",
            "tenant_id=1, stream=stream-1: first missing number is 50",
            "tenant_id=2, stream=stream-2: first missing number is 1",
        ],
    );
    // The hash chain notices too.
    has(
        failed(&run(pg, &db, chain("events"))),
        &["prev does not match"],
    );
}

fn duplicate_seq_fails_naming_the_duplicate(pg: &Cluster) {
    let db = pg.copy_of_shop("duplicated");
    pg.psql(
        &db,
        "INSERT INTO events SELECT * FROM events WHERE tenant_id = 2 AND seq = 7",
    );
    let r = run(pg, &db, gaps(&["tenant_id"]));
    has(failed(&r), &["tenant_id=2: 7 is duplicated", "601 rows"]);
    // One partition over the whole table: every tenant restarts at 1.
    let d = run(pg, &db, gaps(&[])).detail;
    has(&d, &["the table: 1 is duplicated"]);
}

fn missing_table_fails_with_postgresql_message(pg: &Cluster) {
    let missing = "relation \"nope\" does not exist";
    has(failed(&run(pg, "shop", chain("nope"))), &[missing]);
    let sql = CheckKind::Sql {
        query: "SELECT count(*) FROM nope".into(),
        expect: "1".into(),
    };
    has(failed(&run(pg, "shop", sql)), &[missing]);
    let count = CheckKind::RowCount {
        table: "nope".into(),
        expect: RowCountExpect::Min(1),
    };
    has(failed(&run(pg, "shop", count)), &[missing]);
    has(
        failed(&run(
            pg,
            "shop",
            CheckKind::SequenceGaps {
                table: "nope".into(),
                partition_by: vec![],
                sequence: "seq".into(),
                start: 1,
            },
        )),
        &[missing],
    );
    let mut no_column = chain("events");
    if let CheckKind::HashChain { hash, .. } = &mut no_column {
        *hash = "nohash".into();
    }
    has(
        failed(&run(pg, "shop", no_column)),
        &["column \"nohash\" does not exist"],
    );
    // A database that is not there.
    has(
        failed(&run(pg, "nodb", chain("events"))),
        &["database \"nodb\" does not exist"],
    );
}

fn sql_expect_passes_and_fails(pg: &Cluster) {
    let sql = |query: &str, expect: &str| CheckKind::Sql {
        query: query.into(),
        expect: expect.into(),
    };
    has(
        passed(&run(pg, "shop", sql("SELECT count(*) FROM events", "600"))),
        &["'600'"],
    );
    has(
        failed(&run(pg, "shop", sql("SELECT count(*) FROM events;", "601"))),
        &["returned '600', expected '601'"],
    );
    has(
        passed(&run(
            pg,
            "shop",
            sql("SELECT bool_and(event_hash IS NOT NULL) FROM events", "t"),
        )),
        &["'t'"],
    );
    has(passed(&run(pg, "shop", sql("SELECT NULL", ""))), &["NULL"]);
    has(failed(&run(pg, "shop", sql("SELECT NULL", "0"))), &["NULL"]);
    has(
        failed(&run(pg, "shop", sql("SELECT 1 UNION ALL SELECT 2", "1"))),
        &["2 rows"],
    );
    has(
        failed(&run(pg, "shop", sql("SELECT 1, 2", "1"))),
        &["2 columns"],
    );
    has(
        failed(&run(pg, "shop", sql("SELECT 1 WHERE false", "1"))),
        &["0 rows"],
    );
    has(
        passed(&run(pg, "shop", sql("SELECT E'two\\nlines'", "two\nlines"))),
        &["two"],
    );
}

fn row_count_min_and_recorded(pg: &Cluster) {
    let count = |table: &str, expect: RowCountExpect| CheckKind::RowCount {
        table: table.into(),
        expect,
    };
    has(
        passed(&run(pg, "shop", count("events", RowCountExpect::Min(600)))),
        &["600 rows"],
    );
    has(
        failed(&run(pg, "shop", count("events", RowCountExpect::Min(601)))),
        &["600 rows, fewer than the minimum of 601"],
    );
    let recorded = |pairs: &[(&str, u64)]| -> Subject {
        let mut s = pg.subject("shop");
        s.recorded_rows = Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>(),
        );
        s
    };
    let go = |table: &str, s: &Subject| {
        run_check(
            &check(count(table, RowCountExpect::Recorded), "shop"),
            s,
            &CancelToken::new(),
        )
    };
    let s = recorded(&[("public.events", 600), ("audit.log", 5)]);
    has(passed(&go("events", &s)), &["as recorded"]);
    has(passed(&go("public.events", &s)), &["as recorded"]);
    has(passed(&go("audit.log", &s)), &["5 rows"]);
    has(passed(&go("\"audit\".\"log\"", &s)), &["5 rows"]);
    let s = recorded(&[("public.events", 601)]);
    has(
        failed(&go("events", &s)),
        &["600 rows, but 601 were recorded", "1 missing"],
    );
    let many: Vec<(String, u64)> = (0..15).map(|i| (format!("public.t{i:02}"), 1)).collect();
    let many: Vec<(&str, u64)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let d = go("events", &recorded(&many)).detail;
    has(
        &d,
        &[
            "no row count was recorded for public.events",
            "public.t00",
            "and 5 more",
        ],
    );
    let mut none = pg.subject("shop");
    none.recorded_rows = None;
    has(failed(&go("events", &none)), &["recorded no row counts"]);
}

fn freshness_passes_and_fails(pg: &Cluster) {
    let fresh = |query: &str, lag: u64| CheckKind::Freshness {
        query: query.into(),
        max_lag: Duration::from_secs(lag),
    };
    let at: jiff::Timestamp = "2026-01-01T03:25:00Z".parse().unwrap();
    let mut s = pg.subject("shop");
    s.recovery_time = Some(at);
    let go = |k: CheckKind, s: &Subject| run_check(&check(k, "shop"), s, &CancelToken::new());
    // The newest event is at 03:20:03 (seq 200 of tenant 3).
    let q = "SELECT max(created_at) FROM events";
    has(
        passed(&go(fresh(q, 600), &s)),
        &["2026-01-01T03:20:03Z", "4m57s", "max_lag 10m"],
    );
    has(
        failed(&go(fresh(q, 60), &s)),
        &["2026-01-01T03:20:03Z", "4m57s", "max_lag 1m"],
    );
    // A timestamp without time zone, and a trailing semicolon.
    has(
        passed(&go(
            fresh("SELECT max(created_at)::timestamp FROM events;", 600),
            &s,
        )),
        &["2026-01-01T03:20:03Z"],
    );
    s.recovery_time = None;
    has(failed(&go(fresh(q, 600), &s)), &["now"]);
    has(
        failed(&go(
            fresh("SELECT max(created_at) FROM events WHERE false", 600),
            &s,
        )),
        &["NULL"],
    );
    has(
        failed(&go(fresh("SELECT max(x) FROM nope", 600), &s)),
        &["relation \"nope\" does not exist"],
    );
}

fn command_env_exit_status_and_timeout(pg: &Cluster) {
    let cmd = |argv: &[&str], secs: u64| CheckKind::Command {
        command: argv.iter().map(|s| s.to_string()).collect(),
        timeout: Duration::from_secs(secs),
    };
    let mut s = pg.subject("shop");
    s.restored_path = Some(PathBuf::from("/restored/here"));
    let go =
        |k: CheckKind, s: &Subject, cancel: &CancelToken| run_check(&check(k, "shop"), s, cancel);
    let none = CancelToken::new();
    let r = go(
        cmd(
            &[
                "sh",
                "-c",
                "echo $PGPORT $PGDATABASE $PGUSER $LIFEBOAT_RESTORED_PATH; psql -X -A -t -c 'SELECT count(*) FROM events'",
            ],
            60,
        ),
        &s,
        &none,
    );
    let env_line = format!("{} shop postgres /restored/here", pg.port);
    has(passed(&r), &["exited with status 0", &env_line, "600"]);

    let r = go(
        cmd(
            &[
                "sh",
                "-c",
                "echo checking; echo 'invariant broken' >&2; exit 1",
            ],
            60,
        ),
        &s,
        &none,
    );
    has(
        failed(&r),
        &["exited with status 1", "checking", "invariant broken"],
    );

    // A long output keeps its end.
    let r = go(cmd(&["sh", "-c", "seq 1 100000"], 60), &s, &none);
    has(passed(&r), &["100000"]);
    assert!(
        r.detail.len() < 4200 && !r.detail.contains("\n99980\n"),
        "{}",
        r.detail
    );

    // Timeout: the command and what it started are killed.
    let pidfile = pg.sock().join("sleeper.pid");
    let script = format!(
        "echo started; sleep 60 & echo $! > {}; wait",
        pidfile.display()
    );
    let t0 = Instant::now();
    let r = go(cmd(&["sh", "-c", &script], 1), &s, &none);
    has(failed(&r), &["timeout of 1s", "killed", "started"]);
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t0.elapsed()
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let pid = pid.trim();
    let t0 = Instant::now();
    while alive(pid) {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the background sleep {pid} survived the timeout"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Cancellation.
    let cancel = CancelToken::new();
    let c2 = cancel.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        c2.cancel();
    });
    let t0 = Instant::now();
    let r = go(cmd(&["sleep", "60"], 60), &s, &cancel);
    t.join().unwrap();
    has(failed(&r), &["cancelled"]);
    assert!(t0.elapsed() < Duration::from_secs(10));

    let r = go(cmd(&["/nonexistent/checker", "--x"], 60), &s, &none);
    has(
        failed(&r),
        &["/nonexistent/checker", "No such file or directory"],
    );
}

/// Whether process `pid` is still running (a killed process waiting to be reaped is not).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(") ").next().unwrap_or("").chars().next();
            !matches!(state, Some('Z') | Some('X'))
        })
        .unwrap_or(false)
}

fn amcheck_passes_on_a_healthy_cluster(pg: &Cluster) {
    let r = run(pg, "shop", CheckKind::Amcheck);
    has(passed(&r), &["no corruption"]);
}

#[test]
fn checks_against_a_real_cluster() {
    let pg = Cluster::start();
    create_shop(&pg);
    type Case = (&'static str, fn(&Cluster));
    let cases: &[Case] = &[
        ("good_chain_passes", good_chain_passes),
        (
            "tampered_payload_fails_naming_tenant_row_and_hash",
            tampered_payload_fails_naming_tenant_row_and_hash,
        ),
        (
            "broken_prev_link_fails_naming_prev",
            broken_prev_link_fails_naming_prev,
        ),
        (
            "deleted_event_fails_sequence_gaps_naming_stream_and_number",
            deleted_event_fails_sequence_gaps_naming_stream_and_number,
        ),
        (
            "duplicate_seq_fails_naming_the_duplicate",
            duplicate_seq_fails_naming_the_duplicate,
        ),
        (
            "missing_table_fails_with_postgresql_message",
            missing_table_fails_with_postgresql_message,
        ),
        ("sql_expect_passes_and_fails", sql_expect_passes_and_fails),
        ("row_count_min_and_recorded", row_count_min_and_recorded),
        ("freshness_passes_and_fails", freshness_passes_and_fails),
        (
            "command_env_exit_status_and_timeout",
            command_env_exit_status_and_timeout,
        ),
        (
            "amcheck_passes_on_a_healthy_cluster",
            amcheck_passes_on_a_healthy_cluster,
        ),
    ];
    let mut failures = Vec::new();
    for (name, case) in cases {
        let t0 = Instant::now();
        let ok = catch_unwind(AssertUnwindSafe(|| case(&pg))).is_ok();
        eprintln!(
            "{} {name} ({:.1}s)",
            if ok { "ok  " } else { "FAIL" },
            t0.elapsed().as_secs_f64()
        );
        if !ok {
            failures.push(*name);
        }
    }
    drop(pg);
    assert!(failures.is_empty(), "failed cases: {failures:?}");
}
