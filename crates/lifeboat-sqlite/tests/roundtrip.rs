//! Backup → restore of SQLite databases through the engine, without the CLI.

use lifeboat_core::backup::Progress;
use lifeboat_core::config::Config;
use lifeboat_core::Repository;
use lifeboat_sqlite::backup::{backup_sqlite, SqliteBackupOptions};
use lifeboat_sqlite::restore::{restore_sqlite, SqliteRestoreOptions};
use lifeboat_sqlite::{Check, SqliteError, SqliteMeta};
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;

fn repo(dir: &Path) -> Repository {
    std::env::set_var("LIFEBOAT_INSECURE_TEST_KDF", "1");
    let storage = lifeboat_storage::choose::open(dir.to_str().unwrap()).unwrap();
    Repository::init(storage, b"pw", Config::new()).unwrap()
}

fn make_db(path: &Path, mode: &str, rows: usize) {
    let c = Connection::open(path).unwrap();
    c.query_row(&format!("PRAGMA journal_mode = {mode}"), [], |_| Ok(()))
        .unwrap();
    c.execute_batch(
        "PRAGMA user_version = 7;
         CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
         CREATE TABLE audit(id INTEGER PRIMARY KEY, note TEXT);
         CREATE INDEX audit_note ON audit(note);",
    )
    .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    for i in 0..rows {
        tx.execute(
            "INSERT INTO audit(note) VALUES (?1)",
            [format!("row {i} {}", "x".repeat(i % 300))],
        )
        .unwrap();
    }
    tx.execute("INSERT INTO accounts(balance) VALUES (100), (200)", [])
        .unwrap();
    tx.commit().unwrap();
}

#[test]
fn wal_and_rollback_databases_round_trip_with_their_metadata() {
    let d = tempfile::tempdir().unwrap();
    let r = repo(&d.path().join("repo"));
    for mode in ["wal", "delete"] {
        let db = d.path().join(format!("{mode}.db"));
        make_db(&db, mode, 3000);
        let opts = SqliteBackupOptions {
            block_size: 16 * 1024,
            check: if mode == "wal" {
                Check::Full
            } else {
                Check::Quick
            },
            ..Default::default()
        };
        let out = backup_sqlite(
            &r,
            std::slice::from_ref(&db),
            &opts,
            Arc::new(Progress::default()),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        let m = &out[0].meta;
        assert_eq!(m.journal_mode, mode);
        assert_eq!(m.user_version, 7);
        assert_eq!(m.row_counts["audit"], 3000);
        assert_eq!(m.row_counts["accounts"], 2);
        assert_eq!(m.integrity_check, "ok");
        let pragma = if mode == "wal" {
            "integrity_check"
        } else {
            "quick_check"
        };
        assert_eq!(m.check, pragma);
        assert_eq!(m.block_size % m.page_size, 0);
        assert_eq!(m.size, m.page_size as u64 * m.page_count);
        let snap = r.find_snapshot(&out[0].outcome.snapshot_id).unwrap();
        assert_eq!(snap.snapshot.source, "sqlite");
        assert_eq!(SqliteMeta::from_snapshot(&snap).as_ref(), Some(m));

        let target = d.path().join("restored").join(format!("{mode}.db"));
        let rep = restore_sqlite(
            &r,
            &snap,
            &SqliteRestoreOptions {
                target: target.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!rep.replaced);
        let c = Connection::open(&target).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3000);
        let jm: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(jm, mode);
        drop(c);

        // Exists without overwrite: refused, untouched.
        let e = restore_sqlite(
            &r,
            &snap,
            &SqliteRestoreOptions {
                target: target.clone(),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(matches!(e, SqliteError::TargetExists { .. }), "{e}");
        // Overwrite replaces it and removes a stale WAL of the old file.
        let mut wal = target.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::write(&wal, b"stale").unwrap();
        let rep = restore_sqlite(
            &r,
            &snap,
            &SqliteRestoreOptions {
                target: target.clone(),
                overwrite: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(rep.replaced);
        assert_eq!(rep.removed.len(), 1);
        assert!(!Path::new(&wal).exists());
    }
}

#[test]
fn a_second_backup_after_a_few_updates_stores_little() {
    let d = tempfile::tempdir().unwrap();
    let r = repo(&d.path().join("repo"));
    let db = d.path().join("big.db");
    make_db(&db, "wal", 40_000);
    let opts = SqliteBackupOptions::default();
    let first = backup_sqlite(
        &r,
        std::slice::from_ref(&db),
        &opts,
        Arc::new(Progress::default()),
    )
    .unwrap();
    let size = first[0].meta.size;
    let c = Connection::open(&db).unwrap();
    for id in [5, 9000, 20000, 39000] {
        c.execute("UPDATE audit SET note = 'changed' WHERE id = ?1", [id])
            .unwrap();
    }
    drop(c);
    let second = backup_sqlite(&r, &[db], &opts, Arc::new(Progress::default())).unwrap();
    let added = second[0]
        .outcome
        .snapshot
        .summary
        .as_ref()
        .unwrap()
        .bytes_added_raw;
    // A handful of changed pages (rows, index, header) in 32 KiB blocks, plus the tree.
    assert!(
        added < size / 10 && added < 16 * 32 * 1024 + 64 * 1024,
        "{added} of {size}"
    );
}

#[test]
fn corrupt_and_foreign_files_record_nothing() {
    let d = tempfile::tempdir().unwrap();
    let r = repo(&d.path().join("repo"));
    let db = d.path().join("c.db");
    make_db(&db, "delete", 5000);
    // Damage a b-tree page in the middle of the file (not the header).
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    let at = (bytes.len() / page / 2) * page;
    for b in &mut bytes[at..at + 64] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let e = backup_sqlite(
        &r,
        std::slice::from_ref(&db),
        &SqliteBackupOptions::default(),
        Arc::new(Progress::default()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("c.db"), "{e}");
    assert!(e.is_source_failure(), "{e:?}");
    // quick_check finds the damaged b-tree pages too.
    let e = backup_sqlite(
        &r,
        std::slice::from_ref(&db),
        &SqliteBackupOptions {
            check: Check::Quick,
            ..Default::default()
        },
        Arc::new(Progress::default()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("c.db"), "{e}");
    let txt = d.path().join("t.db");
    std::fs::write(&txt, vec![b'x'; 8192]).unwrap();
    let e = backup_sqlite(
        &r,
        &[txt],
        &SqliteBackupOptions::default(),
        Arc::new(Progress::default()),
    )
    .unwrap_err();
    assert!(matches!(e, SqliteError::NotADatabase { .. }), "{e}");
    assert!(r.list_snapshot_ids().unwrap().is_empty());
}
