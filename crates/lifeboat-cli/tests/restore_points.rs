//! Restore points end to end: one named set across a physical PostgreSQL cluster with WAL
//! archiving, a logical dump and a file tree; restore brings each back at its recorded
//! position; a failing member records nothing; forget keeps members together and pinned
//! points whole.
//!
//! PostgreSQL must be installed; a missing installation fails these tests, it never skips them.

use serde_json::Value;

mod pg;
use pg::*;

fn lbc(env: &Env, args: &[&str]) -> std::process::Output {
    let cfg = config_path(env);
    let mut all = vec!["--config", cfg.to_str().unwrap()];
    all.extend_from_slice(args);
    env.lb().args(&all).output().unwrap()
}

fn lbc_json(env: &Env, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = lbc(env, &a);
    assert!(
        out.status.success(),
        "lifeboat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_restore_point_spans_sources_restores_each_at_its_position_and_is_forgotten_as_a_unit() {
    let env = Env::new();
    let c = Cluster::start(&env, "src", true);
    c.psql(
        "postgres",
        "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)",
    );
    c.psql("postgres", "CREATE DATABASE shop");
    c.psql(
        "shop",
        "CREATE TABLE orders (id int); INSERT INTO orders SELECT generate_series(1, 7)",
    );
    let files = env.path().join("registry");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("assignments.json"), "{\"a\": 1}\n").unwrap();
    let marks = env.path().join("hooks.log");
    let app_db = env.path().join("app.db");
    let sql = |q: &str| {
        let out = env
            .cmd("python3")
            .args([
                "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print(r[0][0] if r else '')",
                app_db.to_str().unwrap(),
                q,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    sql("CREATE TABLE outbox (id INTEGER PRIMARY KEY, body TEXT)");
    sql("INSERT INTO outbox (body) VALUES ('one'), ('two'), ('three')");
    write_config(
        &env,
        &format!(
            r#"[sources.db]
kind = "postgres-physical"
dsn = "{dsn}"
data_directory = "{data}"
restore_point = true

[sources.shop]
kind = "postgres"
dsn = "{shop}"
restore_point = true

[sources.registry]
kind = "files"
paths = ["{files}"]
restore_point = true

[sources.outbox]
kind = "sqlite"
paths = ["{app_db}"]
restore_point = true

[sources.broken]
kind = "command"
stream_name = "x.json"
command = ["sh", "-c", "echo partial; exit 3"]

[restore_points]
pre_command = ["sh", "-c", "echo pre $LIFEBOAT_RESTORE_POINT >> {marks}"]
post_command = ["sh", "-c", "echo post $LIFEBOAT_RESTORE_POINT >> {marks}"]
"#,
            dsn = c.dsn("postgres"),
            data = c.data.display(),
            shop = c.dsn("shop"),
            files = files.display(),
            marks = marks.display(),
            app_db = app_db.display(),
        ),
    );
    // A physical member needs a base backup to start from: the point takes one.
    let p = lbc_json(
        &env,
        &[
            "restore-point",
            "create",
            "before-migration",
            "--description",
            "schema 41",
        ],
    );
    assert_eq!(p["name"], "before-migration");
    let members = p["members"].as_array().unwrap();
    assert_eq!(members.len(), 4, "{p:#}");
    let db = members.iter().find(|m| m["source"] == "db").unwrap();
    assert!(db["position"]["lsn"].is_string(), "{db:#}");
    assert_eq!(
        std::fs::read_to_string(&marks).unwrap(),
        "pre before-migration\npost before-migration\n"
    );

    // Changes after the point.
    c.psql("postgres", "INSERT INTO t SELECT generate_series(101, 150)");
    c.switch_and_wait();
    std::fs::write(files.join("assignments.json"), "{\"a\": 2}\n").unwrap();
    sql("INSERT INTO outbox (body) VALUES ('after the point')");

    // A failing member records no point, and post_command still runs.
    let out = lbc(
        &env,
        &[
            "restore-point",
            "create",
            "half",
            "--source",
            "registry",
            "--source",
            "broken",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'broken'") && err.contains("no restore point was recorded"),
        "{err}"
    );
    assert!(std::fs::read_to_string(&marks)
        .unwrap()
        .ends_with("post half\n"));
    let list = lbc_json(&env, &["restore-point", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list:#}");
    // Names are unique.
    let out = lbc(
        &env,
        &[
            "restore-point",
            "create",
            "before-migration",
            "--source",
            "registry",
        ],
    );
    assert!(!out.status.success());

    // Restore every member at its position.
    let root = env.path().join("restored");
    let target_db = c.dsn("postgres");
    let out = lbc(
        &env,
        &[
            "restore-point",
            "restore",
            "before-migration",
            "--target-root",
            root.to_str().unwrap(),
            "--dsn",
            &format!(
                "shop={}",
                target_db.replace("dbname=postgres", "dbname=restored")
            ),
            "--start",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed member must fail the restore"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["ok"], false);
    // (the logical member needs its database first: it failed and says why)
    let shop = r["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["source"] == "shop")
        .unwrap()
        .clone();
    assert_eq!(shop["result"], "error", "{r:#}");
    c.psql("postgres", "CREATE DATABASE restored");
    let r2 = lbc_json(
        &env,
        &[
            "restore-point",
            "restore",
            "before-migration",
            "--target-root",
            env.path().join("restored2").to_str().unwrap(),
            "--source",
            "shop",
            "--dsn",
            &format!(
                "shop={}",
                target_db.replace("dbname=postgres", "dbname=restored")
            ),
        ],
    );
    assert_eq!(r2["ok"], true, "{r2:#}");
    assert_eq!(c.psql("restored", "SELECT count(*) FROM orders"), "7");

    for m in r["members"].as_array().unwrap() {
        if m["source"] != "shop" {
            assert_eq!(m["result"], "ok", "{m:#}");
        }
    }
    let restored_file = root
        .join("registry")
        .join(files.strip_prefix("/").unwrap())
        .join("assignments.json");
    assert_eq!(
        std::fs::read_to_string(restored_file).unwrap(),
        "{\"a\": 1}\n"
    );
    // PITR landed on the named point: rows committed after it are absent.
    let dir = root.join("db");
    let port = free_port();
    let sock = env.path().join("rp-sock");
    std::fs::create_dir_all(&sock).unwrap();
    if let Some((u, g)) = env.user {
        std::os::unix::fs::chown(&sock, Some(u), Some(g)).unwrap();
    }
    env.run(
        "pg_ctl",
        &[
            "-D",
            dir.to_str().unwrap(),
            "-o",
            &format!("-p {port} -k {} -c listen_addresses=", sock.display()),
            "-l",
            env.path().join("rp.log").to_str().unwrap(),
            "-w",
            "start",
        ],
    );
    let count = env.run(
        "psql",
        &[
            "-X",
            "-A",
            "-t",
            "-d",
            &format!(
                "host={} port={port} user=postgres dbname=postgres",
                sock.display()
            ),
            "-c",
            "SELECT count(*) FROM t",
        ],
    );
    stop_dir(&env, &dir);
    assert_eq!(
        count.trim(),
        "100",
        "recovery did not stop at the restore point"
    );

    // Retention: a pinned point survives --keep-last 1; an unpinned one is kept together or
    // removed as a whole.
    lbc_json(
        &env,
        &[
            "restore-point",
            "pin",
            "before-migration",
            "--keep-until",
            "forever",
        ],
    );
    for _ in 0..2 {
        lbc(&env, &["backup", "--source", "registry"]);
    }
    let f = lbc_json(&env, &["forget", "--keep-last", "1", "--dry-run"]);
    let text = f.to_string();
    assert!(
        text.contains("pinned restore point before-migration"),
        "{f:#}"
    );
    lbc_json(&env, &["forget", "--keep-last", "1"]);
    let snaps = env.snapshots();
    for m in members {
        for s in m["snapshots"].as_array().unwrap() {
            assert!(
                snaps.iter().any(|x| &x["id"] == s),
                "member {s} of the pinned point was forgotten"
            );
        }
    }
    // Naming one member alone is refused.
    let reg = members.iter().find(|m| m["source"] == "registry").unwrap();
    let out = lbc(&env, &["forget", reg["snapshots"][0].as_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("before-migration"));
    // Unpinned, the whole point goes once no member is kept.
    lbc_json(
        &env,
        &[
            "restore-point",
            "pin",
            "before-migration",
            "--keep-until",
            "none",
        ],
    );
    lbc_json(&env, &["forget", "--keep-last", "1"]);
    let snaps = env.snapshots();
    let still: usize = members
        .iter()
        .flat_map(|m| m["snapshots"].as_array().unwrap().iter())
        .filter(|s| snaps.iter().any(|x| &x["id"] == *s))
        .count();
    let listed = lbc_json(&env, &["restore-point", "list"]);
    // Either every member is still there (some member is the newest of its group) or none and
    // the point is gone.
    let total: usize = members
        .iter()
        .map(|m| m["snapshots"].as_array().unwrap().len())
        .sum();
    assert!(
        still == total || (still == 0 && listed.as_array().unwrap().is_empty()),
        "{still} of {total} members left: {listed:#}"
    );
}

/// Restores `--physical` (with the configuration file) and queries the restored server.
fn recover(env: &Env, dir: &str, target: &[&str], sql: &str) -> (Value, String) {
    restore_and_query(env, |a| lbc_json(env, a), dir, target, sql)
}

#[test]
fn to_xid_and_to_name_start_from_the_newest_base_backup_before_them() {
    let env = Env::new();
    let c = Cluster::start(&env, "src", true);
    write_config(
        &env,
        &format!(
            "[sources.db]\nkind = \"postgres-physical\"\ndsn = \"{}\"\ndata_directory = \"{}\"\nrestore_point = true\n",
            c.dsn("postgres"),
            c.data.display()
        ),
    );
    c.psql("postgres", "CREATE TABLE t (id int)");
    let first = c.physical_backup(&[]);
    assert!(first["postgres"]["next_xid"].as_u64().is_some(), "{first}");
    c.psql("postgres", "INSERT INTO t SELECT generate_series(1, 100)");
    let second = c.physical_backup(&[]);
    let second_id = second["snapshot_id"].as_str().unwrap();
    // A transaction that began after the second backup ended, then a lifeboat restore point.
    let xid = c.psql(
        "postgres",
        "INSERT INTO t SELECT generate_series(101, 150); SELECT txid_current()",
    );
    let p = lbc_json(&env, &["restore-point", "create", "after-150"]);
    assert!(p["members"][0]["position"]["lsn"].is_string(), "{p:#}");
    c.psql("postgres", "INSERT INTO t SELECT generate_series(151, 200)");
    // A third backup after both: recovery cannot start from it.
    let third = c.physical_backup(&[]);
    c.psql("postgres", "INSERT INTO t SELECT generate_series(201, 300)");
    c.switch_and_wait();

    let (r, rows) = recover(&env, "r_xid", &["--to-xid", &xid], "SELECT count(*) FROM t");
    assert_eq!(rows, "150");
    assert_eq!(r["snapshot_id"], second_id, "{r:#}");
    assert_ne!(r["snapshot_id"], third["snapshot_id"]);
    assert!(r["notes"].as_array().unwrap().is_empty(), "{r:#}");

    let (r, rows) = recover(
        &env,
        "r_name",
        &["--to-name", "after-150"],
        "SELECT count(*) FROM t",
    );
    assert_eq!(rows, "150");
    assert_eq!(r["snapshot_id"], second_id, "{r:#}");
    assert!(r["notes"].as_array().unwrap().is_empty(), "{r:#}");

    // A name made by hand has no recorded position: it is found in the archived WAL, so
    // recovery starts from the newest backup before it (the third), with a note saying where.
    c.psql("postgres", "SELECT pg_create_restore_point('by-hand')");
    c.psql("postgres", "INSERT INTO t SELECT generate_series(301, 400)");
    c.switch_and_wait();
    let (r, rows) = recover(
        &env,
        "r_hand",
        &["--to-name", "by-hand"],
        "SELECT count(*) FROM t",
    );
    assert_eq!(rows, "300");
    assert_eq!(r["snapshot_id"], third["snapshot_id"], "{r:#}");
    let notes = r["notes"].to_string();
    assert!(notes.contains("found in archived WAL segment"), "{r:#}");
    assert_ne!(r["snapshot_id"], first["snapshot_id"]);
}
