//! Object lock and append-only deployments through the real binary.
//!
//! The retention logic itself (every object but locks retained, check reporting missing or short
//! retention, forget and prune waiting for it) is tested in lifeboat-core against an in-memory
//! store with S3 Object Lock semantics (`retention_layer::tests`).

mod common;
mod moto;

use common::{write, Env};
use predicates::str::contains;

#[test]
fn object_lock_on_a_store_without_it_is_refused_and_nothing_is_written() {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--object-lock", "COMPLIANCE:30"])
        .assert()
        .failure()
        .stderr(contains("bucket without object lock"));
    assert!(!env.repo.join("config").exists());
    env.cmd()
        .args(["init", "--object-lock", "forever"])
        .assert()
        .failure()
        .stderr(contains("MODE:DAYS"));
}

#[test]
fn object_lock_on_an_s3_bucket_without_it_is_refused() {
    let moto = moto::Moto::start();
    moto.bucket("plain", false);
    let env = Env::uninit();
    let mut c = env.cmd();
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    c.args([
        "-r",
        &moto.repo("plain", "r"),
        "init",
        "--object-lock",
        "GOVERNANCE:1",
    ])
    .assert()
    .failure()
    .stderr(contains("bucket without object lock"))
    .stderr(contains("plain"));
}

#[test]
fn append_only_credentials_back_up_but_prune_fails_clearly_without_damage() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &common::pseudo_random(300_000, 3));
    let append_only = |args: &[&str]| {
        let mut c = env.cmd();
        c.env("LIFEBOAT_TEST_FAULTS", "remove-after=0,kind=permission")
            .args(args);
        c
    };
    // Backups work with credentials that cannot delete.
    append_only(&["backup", src.to_str().unwrap()])
        .assert()
        .success();
    write(&src.join("a"), &common::pseudo_random(300_000, 4));
    append_only(&["backup", src.to_str().unwrap()])
        .assert()
        .success();
    let snaps = env.json(&["snapshots"]);
    let first = snaps[0]["id"].as_str().unwrap().to_string();
    // forget cannot delete either, and says why.
    append_only(&["forget", &first])
        .assert()
        .failure()
        .stderr(contains("permission denied"));
    // With full credentials forget works; prune with append-only ones fails before changing
    // anything.
    env.cmd().args(["forget", &first]).assert().success();
    let before: Vec<_> = ["data", "index", "snapshots"]
        .iter()
        .flat_map(|d| env.objects(d))
        .collect();
    append_only(&["prune"])
        .assert()
        .failure()
        .stderr(contains("append-only"))
        .stderr(contains("Nothing was changed"));
    let after: Vec<_> = ["data", "index", "snapshots"]
        .iter()
        .flat_map(|d| env.objects(d))
        .collect();
    assert_eq!(before, after);
    let report = env.json(&["check", "--read-data"]);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{report}");
    // And a prune with full credentials cleans up.
    env.cmd()
        .args(["unlock", "--remove-all"])
        .assert()
        .success();
    env.cmd().args(["prune"]).assert().success();
    let report = env.json(&["check", "--read-data"]);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{report}");
}

#[test]
fn object_lock_on_an_s3_bucket_with_it_retains_every_object() {
    let moto = moto::Moto::start();
    moto.bucket("locked", true);
    let env = Env::uninit();
    let repo = moto.repo("locked", "r");
    let lifeboat = |args: &[&str]| {
        let mut c = env.cmd();
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c.env("LIFEBOAT_REPOSITORY", &repo).args(args);
        c
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let out = lifeboat(args).arg("--json").output().expect("run");
        assert!(
            out.status.success(),
            "lifeboat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    };
    lifeboat(&["init", "--object-lock", "COMPLIANCE:1"])
        .assert()
        .success();
    let src = env.path("src");
    write(&src.join("a"), &common::pseudo_random(300_000, 5));
    lifeboat(&["backup", src.to_str().unwrap()])
        .assert()
        .success();
    write(&src.join("a"), &common::pseudo_random(300_000, 6));
    lifeboat(&["backup", src.to_str().unwrap()])
        .assert()
        .success();

    // Every object carries the configured retention: check finds nothing missing.
    let report = json(&["check", "--read-data"]);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{report}");
    assert!(
        !report.to_string().contains("no object-lock retention"),
        "{report}"
    );

    // The snapshots are retained for a day: forget keeps them and says until when.
    let snaps = json(&["snapshots"]);
    assert_eq!(snaps.as_array().unwrap().len(), 2, "{snaps}");
    let first = snaps[0]["id"].as_str().unwrap().to_string();
    lifeboat(&["forget", &first])
        .assert()
        .success()
        .stdout(contains("removed 0 snapshots"))
        .stderr(contains("under object-lock retention until"));
    // prune deletes no retained pack, and the repository stays whole.
    let pruned = json(&["prune"]);
    assert_eq!(pruned["packs_deleted"], 0, "{pruned}");
    assert_eq!(json(&["snapshots"]).as_array().unwrap().len(), 2);
    let report = json(&["check", "--read-data"]);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{report}");
}
