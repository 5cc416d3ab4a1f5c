//! Restore drills end to end: the real binary, real PostgreSQL clusters (physical with WAL
//! archiving, logical dumps into throwaway clusters), an event-store table with per-stream
//! sequence numbers and a per-tenant SHA-256 chain, and files sources.
//!
//! PostgreSQL must be installed; a missing installation fails these tests, it never skips them.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod pg;
use pg::*;

/// The event store: 3 tenants × 60 events, streams `order-0..3` with per-stream `seq` from 1,
/// and a per-tenant chain `event_hash = sha256(prev_hash || event_type || tenant_id || payload)`.
const EVENT_STORE: &str = r#"
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  tenant_id int NOT NULL,
  stream text NOT NULL,
  seq int NOT NULL,
  created_at timestamptz NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  prev_hash text NOT NULL,
  event_hash text NOT NULL
);
CREATE INDEX events_stream ON events (tenant_id, stream, seq);
DO $$
DECLARE t int; i int; prev text; h text; p jsonb; et text;
        ts timestamptz := '2026-11-01T00:00:00Z';
BEGIN
  FOR t IN 1..3 LOOP
    prev := repeat('0', 64);
    FOR i IN 1..60 LOOP
      ts := ts + interval '1 second';
      et := CASE WHEN i % 3 = 0 THEN 'OrderPlaced' ELSE 'ItemAdded' END;
      p := jsonb_build_object('order', i, 'sku', md5(i::text), 'qty', i % 5, 'tags', jsonb_build_array('a', i));
      h := encode(sha256(convert_to(prev || et || t::text || p::text, 'UTF8')), 'hex');
      INSERT INTO events (tenant_id, stream, seq, created_at, event_type, payload, prev_hash, event_hash)
        VALUES (t, 'order-' || (i % 4), (i - 1) / 4 + 1, ts, et, p, prev, h);
      prev := h;
    END LOOP;
  END LOOP;
END $$;
"#;

const CHAIN_CHECKS: &str = r#"
[[drills.DRILL.checks]]
kind = "hash_chain"
table = "events"
partition_by = ["tenant_id"]
order_by = "created_at"
hash = "event_hash"
prev = "prev_hash"
input = "prev_hash || event_type || tenant_id || payload::text"

[[drills.DRILL.checks]]
kind = "sequence_gaps"
table = "events"
partition_by = ["tenant_id", "stream"]
sequence = "seq"
"#;

fn drill_section(name: &str, source: &str, extra: &str, checks: &str) -> String {
    format!(
        "[drills.{name}]\nsource = \"{source}\"\n{extra}\n{}\n",
        checks.replace("DRILL", name)
    )
}

/// `lifeboat --config … drill run NAME --json …`: (exit code, report, stderr).
fn drill(env: &Env, name: &str, extra: &[&str]) -> (i32, Value, String) {
    let cfg = config_path(env);
    let mut args = vec![
        "--config",
        cfg.to_str().unwrap(),
        "drill",
        "run",
        name,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = env.lb().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

fn assert_passed(code: i32, report: &Value, stderr: &str) {
    assert_eq!(code, 0, "drill failed: {report:#}\n{stderr}");
    assert_eq!(report["result"], "passed", "{report:#}");
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["result"], "passed", "{c:#}");
    }
}

fn scratch_dirs(scratch: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(scratch)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("lifeboat-drill-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn physical_drills_pass_then_catch_tampering_gaps_and_failing_checks_and_clean_up_after_kill_9() {
    let env = Env::new();
    let c = Cluster::start(&env, "src", true);
    c.psql("postgres", EVENT_STORE);
    c.physical_backup(&[]);
    c.switch_and_wait();
    let scratch = env.path().join("scratch");
    let source = format!(
        "[sources.shop]\nkind = \"postgres-physical\"\ndsn = \"{}\"\ndata_directory = \"{}\"\n\n[targets.shop]\nrpo = \"1h\"\nrto = \"10m\"\n\n",
        c.dsn("postgres"),
        c.data.display()
    );
    let extra = format!("scratch_dir = \"{}\"\ntimeout = \"2m\"", scratch.display());
    let more_checks = r#"
[[drills.DRILL.checks]]
kind = "row_count"
table = "events"
min = 180

[[drills.DRILL.checks]]
kind = "sql"
query = "SELECT count(DISTINCT tenant_id) FROM events"
expect = 3

[[drills.DRILL.checks]]
kind = "freshness"
query = "SELECT max(created_at) FROM events"
max_lag = "3650d"

[[drills.DRILL.checks]]
kind = "amcheck"
"#;
    let failing = r#"
[[drills.DRILL.checks]]
kind = "sql"
query = "SELECT count(*) FROM no_such_table"
expect = 0

[[drills.DRILL.checks]]
kind = "command"
command = ["sh", "-c", "echo checker looked at $PGDATABASE on port $PGPORT; echo 'invariant violated: 3 orphans' >&2; exit 1"]

[[drills.DRILL.checks]]
kind = "row_count"
table = "events"
min = 1
"#;
    let same_dir = format!("scratch_dir = \"{}\"", c.data.display());
    write_config(
        &env,
        &format!(
            "{source}{}{}{}",
            drill_section(
                "weekly",
                "shop",
                &extra,
                &(CHAIN_CHECKS.to_string() + more_checks)
            ),
            drill_section("failing", "shop", &extra, failing),
            drill_section("over-source", "shop", &same_dir, "")
        ),
    );

    // A healthy copy passes, with RTO/RPO measured against the targets.
    let (code, r, err) = drill(&env, "weekly", &[]);
    assert_passed(code, &r, &err);
    assert_eq!(r["source_kind"], "postgres-physical");
    assert!(r["rto_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(r["rto_target_seconds"], 600.0);
    assert!(r["rpo_seconds"].as_f64().unwrap() < 3600.0, "{r:#}");
    assert_eq!(r["rpo_target_seconds"], 3600.0);
    assert!(r["recovery_point"]["lsn"].is_string(), "{r:#}");
    let phases: Vec<&str> = r["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["pick", "restore", "recovery", "check hash_chain events"] {
        assert!(phases.contains(&p), "phase {p} missing from {phases:?}");
    }
    assert_eq!(r["checks"].as_array().unwrap().len(), 6);
    let first_id = r["id"].as_str().unwrap().to_string();
    assert!(
        scratch_dirs(&scratch).is_empty(),
        "scratch space left behind"
    );

    // Evidence: stored, journaled, marked on the snapshot, rendered for an auditor.
    let cfg = config_path(&env);
    let cfg = cfg.to_str().unwrap();
    let list = env.lb_json(&["--config", cfg, "drill", "list"]);
    assert_eq!(list[0]["id"], first_id.as_str());
    assert_eq!(list[0]["journaled"], true);
    let snaps = env.snapshots();
    assert_eq!(snaps[0]["drill"]["result"], "passed", "{snaps:#?}");
    let md = env
        .lb()
        .args([
            "--config",
            cfg,
            "drill",
            "show",
            &first_id[..10],
            "--markdown",
        ])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("PASSED") && md.contains("hash_chain events") && md.contains("RTO"),
        "{md}"
    );
    env.lb().args(["journal", "verify"]).assert().success();

    // Tamper with one payload in the source: the chain breaks at that row.
    let when = c.psql(
        "postgres",
        "SELECT created_at FROM events WHERE tenant_id = 2 AND seq = 7 AND stream = 'order-1'",
    );
    c.psql(
        "postgres",
        "UPDATE events SET payload = payload || '{\"qty\": 99}' WHERE tenant_id = 2 AND seq = 7 AND stream = 'order-1'",
    );
    c.switch_and_wait();
    let (code, r, err) = drill(&env, "weekly", &[]);
    assert_eq!(code, 4, "{r:#}\n{err}");
    assert_eq!(r["result"], "failed");
    let hc = check(&r, "hash_chain events");
    assert_eq!(hc["result"], "failed");
    let detail = hc["detail"].as_str().unwrap();
    assert!(detail.contains("tenant_id=2"), "{detail}");
    assert!(
        detail.contains(&when),
        "the row ({when}) is not named: {detail}"
    );
    assert!(detail.contains("hash"), "{detail}");
    assert_eq!(check(&r, "sequence_gaps events")["result"], "passed");

    // Delete one event: its stream has a gap at that number.
    c.psql(
        "postgres",
        "DELETE FROM events WHERE tenant_id = 3 AND stream = 'order-2' AND seq = 5",
    );
    c.switch_and_wait();
    let (code, r, _) = drill(&env, "weekly", &[]);
    assert_eq!(code, 4);
    let sg = check(&r, "sequence_gaps events");
    assert_eq!(sg["result"], "failed");
    let detail = sg["detail"].as_str().unwrap();
    assert!(
        detail.contains("tenant_id=3") && detail.contains("order-2"),
        "{detail}"
    );
    assert!(detail.contains('5'), "{detail}");

    // A check on a missing table fails with PostgreSQL's message; the others still run; a
    // failing command's output lands in the report.
    let (code, r, _) = drill(&env, "failing", &[]);
    assert_eq!(code, 4, "{r:#}");
    let sql = check(&r, "sql #1");
    assert_eq!(sql["result"], "failed");
    assert!(
        sql["detail"].as_str().unwrap().contains("does not exist"),
        "{sql:#}"
    );
    let cmd = check(&r, "command #2");
    assert_eq!(cmd["result"], "failed");
    let out = cmd["detail"].as_str().unwrap();
    assert!(out.contains("invariant violated: 3 orphans"), "{out}");
    assert!(out.contains("checker looked at postgres on port"), "{out}");
    assert_eq!(check(&r, "row_count events")["result"], "passed");

    // A scratch directory equal to the source's data directory is refused before anything is
    // written.
    let before = std::fs::read_dir(&c.data).unwrap().count();
    let (code, _, err) = drill(&env, "over-source", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("scratch_dir") && err.contains("data directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&c.data).unwrap().count(), before);
    assert!(!c.data.join("lifeboat-drill.json").exists());

    // kill -9 mid-drill leaves a directory and a running server; the next drill removes both.
    let mut child = env
        .cmd(env!("CARGO_BIN_EXE_lifeboat"))
        .args(["--config", cfg, "drill", "run", "weekly", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let pidfile = loop {
        let found = scratch_dirs(&scratch)
            .into_iter()
            .map(|d| d.join("data/postmaster.pid"))
            .find(|p| p.exists());
        if let Some(p) = found {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the drill never started its server"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let leftover = pidfile.parent().unwrap().parent().unwrap().to_path_buf();
    let postmaster: i32 = std::fs::read_to_string(&pidfile)
        .unwrap_or_default()
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(leftover.exists());
    let (code, r, err) = drill(&env, "weekly", &[]);
    assert_eq!(code, 4, "{r:#}\n{err}"); // the tampering above still fails it
    let notes = r["notes"].to_string();
    assert!(notes.contains("removed the leftovers"), "{notes}");
    assert!(!leftover.exists(), "leftovers not removed");
    if postmaster > 0 {
        assert!(
            !pid_alive(postmaster),
            "the killed drill's server still runs"
        );
    }
    assert!(scratch_dirs(&scratch).is_empty());
}

#[test]
fn logical_drills_compare_recorded_row_counts_and_judge_rpo_targets() {
    let env = Env::new();
    let c = Cluster::start(&env, "src", false);
    c.psql("postgres", "CREATE DATABASE shop");
    c.psql("shop", EVENT_STORE);
    c.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 250) g",
    );
    let scratch = env.path().join("scratch");
    let dsn = c.dsn("shop");
    let sources = format!(
        "[sources.shop]\nkind = \"postgres\"\ndsn = \"{dsn}\"\n\n[sources.shop-strict]\nkind = \"postgres\"\ndsn = \"{dsn}\"\n\n[targets.shop-strict]\nrpo = \"1s\"\n\n"
    );
    let extra = format!("scratch_dir = \"{}\"\njobs = 2", scratch.display());
    let recorded = r#"
[[drills.DRILL.checks]]
kind = "row_count"
table = "events"
expect = "recorded"

[[drills.DRILL.checks]]
kind = "row_count"
table = "public.orders"
expect = "recorded"
"#;
    // A check that changes the restored copy, so it no longer matches what was dumped.
    let differ = r#"
[[drills.DRILL.checks]]
kind = "command"
command = ["sh", "-c", "psql -X -q -c 'DELETE FROM orders WHERE id <= 3'"]

[[drills.DRILL.checks]]
kind = "row_count"
table = "orders"
expect = "recorded"
"#;
    write_config(
        &env,
        &format!(
            "{sources}{}{}{}",
            drill_section(
                "logical",
                "shop",
                &extra,
                &(CHAIN_CHECKS.to_string() + recorded)
            ),
            drill_section("differ", "shop", &extra, differ),
            drill_section("strict", "shop-strict", &extra, "")
        ),
    );
    let cfg = config_path(&env);
    let cfg = cfg.to_str().unwrap();
    let b = env.lb_json(&["--config", cfg, "backup", "--source", "shop"]);
    let counts = &b[0]["postgres"]["row_counts"];
    assert_eq!(counts["public.events"], 180, "{b:#}");
    assert_eq!(counts["public.orders"], 250, "{b:#}");

    let (code, r, err) = drill(&env, "logical", &[]);
    assert_passed(code, &r, &err);
    let phases = r["phases"].to_string();
    assert!(
        phases.contains("\"start\"") && phases.contains("\"restore\""),
        "{phases}"
    );
    assert!(check(&r, "row_count public.orders")["detail"]
        .as_str()
        .unwrap()
        .contains("250"));

    let (code, r, _) = drill(&env, "differ", &[]);
    assert_eq!(code, 4, "{r:#}");
    let rc = check(&r, "row_count orders");
    assert_eq!(rc["result"], "failed");
    let d = rc["detail"].as_str().unwrap();
    assert!(d.contains("247") && d.contains("250"), "{d}");

    // An RPO target of one second with an older backup fails on the target alone.
    std::thread::sleep(Duration::from_millis(1500));
    let (code, r, _) = drill(&env, "strict", &[]);
    assert_eq!(code, 4, "{r:#}");
    assert!(r["rpo_seconds"].as_f64().unwrap() > 1.0);
    assert_eq!(r["rpo_target_seconds"], 1.0);
    assert!(r["failures"][0].as_str().unwrap().contains("RPO"), "{r:#}");
    assert!(scratch_dirs(&scratch).is_empty());
}

#[test]
fn bad_drill_configuration_names_its_line() {
    let env = Env::new();
    write_config(
        &env,
        "[sources.app]\nkind = \"files\"\npaths = [\"/tmp\"]\n\n[drills.d]\nsource = \"app\"\n\n[[drills.d.checks]]\nkind = \"row_coutn\"\ntable = \"x\"\n\n[[drills.d.checks]]\nkind = \"command\"\n",
    );
    let cfg = config_path(&env);
    let out = env
        .lb()
        .args(["--config", cfg.to_str().unwrap(), "drill", "run", "d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lifeboat.toml:13:"), "{err}");
    assert!(err.contains("row_coutn"), "{err}");
    assert!(err.contains("command"), "missing field not reported: {err}");
}

#[test]
fn files_drills_verify_the_restore_refuse_their_source_keep_on_request_and_report_damage() {
    let env = Env::new();
    let src = env.path().join("app");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![7u8; 300_000]).unwrap();
    let scratch = env.path().join("scratch");
    let cmp = format!(
        "[[drills.DRILL.checks]]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"cmp \\\"$LIFEBOAT_RESTORED_PATH{0}/a.txt\\\" {0}/a.txt && echo same\"]\n",
        src.display()
    );
    write_config(
        &env,
        &format!(
            "[sources.app]\nkind = \"files\"\npaths = [\"{}\"]\n\n{}{}",
            src.display(),
            drill_section(
                "app",
                "app",
                &format!("scratch_dir = \"{}\"", scratch.display()),
                &cmp
            ),
            drill_section(
                "inside",
                "app",
                &format!("scratch_dir = \"{}/scratch\"", src.display()),
                ""
            )
        ),
    );
    let cfg = config_path(&env);
    let cfg = cfg.to_str().unwrap();
    // Nothing backed up yet: the drill cannot run, and says so.
    let (code, r, _) = drill(&env, "app", &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["result"], "error");
    assert!(
        r["error"].as_str().unwrap().contains("no snapshots"),
        "{r:#}"
    );

    env.lb()
        .args(["--config", cfg, "backup", "--source", "app"])
        .assert()
        .success();
    let (code, r, err) = drill(&env, "app", &[]);
    assert_passed(code, &r, &err);
    assert!(check(&r, "content hashes")["detail"]
        .as_str()
        .unwrap()
        .contains("2 files"));
    assert!(check(&r, "command #1")["detail"]
        .as_str()
        .unwrap()
        .contains("same"));

    // --keep leaves the copy (the next drill removes it once this process has ended).
    let (code, r, _) = drill(&env, "app", &["--keep"]);
    assert_eq!(code, 0);
    let kept = PathBuf::from(r["kept"]["path"].as_str().unwrap());
    assert!(kept
        .join("restored")
        .join(src.strip_prefix("/").unwrap())
        .join("a.txt")
        .exists());
    let (_, r, _) = drill(&env, "app", &[]);
    assert!(
        !kept.exists(),
        "kept copy of an ended process not removed: {r:#}"
    );

    // Scratch space inside the backed-up path is refused before anything is written.
    let (code, _, err) = drill(&env, "inside", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("scratch_dir") && err.contains("inside"),
        "{err}"
    );
    assert!(!src.join("scratch").exists());

    // Damaged data: the drill cannot restore, names the damage, and the report says error.
    for e in walk(&env.repo().join("data")) {
        std::fs::write(&e, b"garbage").unwrap();
    }
    let (code, r, _) = drill(&env, "app", &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["result"], "error");
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("restoring snapshot") && e.contains("data/"),
        "{e}"
    );
    let list = env.lb_json(&["--config", cfg, "drill", "list", "--drill", "app"]);
    let results: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        ["error", "passed", "passed", "passed", "error"],
        "{list:#}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
