//! Fault injection through the real binary (`LIFEBOAT_TEST_FAULTS`, the storage Faults layer):
//! transient failures (5xx, timeouts, dropped connections) are retried; when the store keeps
//! failing, lifeboat gives up and leaves no snapshot pointing at missing data, mid-backup and
//! mid-prune alike.

mod common;

use common::*;
use predicates::prelude::*;

fn data(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    for i in 0..8u64 {
        write(&src.join(format!("f{i}")), &pseudo_random(600_000, i));
    }
    src
}

fn snapshot_count(env: &Env) -> usize {
    env.json(&["snapshots"]).as_array().unwrap().len()
}

#[test]
fn transient_store_failures_are_retried_and_the_backup_succeeds() {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--pack-size-mib", "1"])
        .assert()
        .success();
    let src = data(&env);
    // A fifth of all storage calls fail transiently; retries absorb them.
    env.cmd()
        .env("LIFEBOAT_TEST_FAULTS", "fraction=0.2,seed=11")
        .arg("backup")
        .arg(&src)
        .assert()
        .success();
    // A dropped connection after the server stored the object (lost acknowledgement).
    write(&src.join("new"), &pseudo_random(900_000, 99));
    env.cmd()
        .env("LIFEBOAT_TEST_FAULTS", "write-after=1,failures=2,lost-ack")
        .arg("backup")
        .arg(&src)
        .assert()
        .success();
    env.cmd().args(["check", "--read-data"]).assert().success();
    let t = env.path("t");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&t)
        .assert()
        .success();
    assert_same_tree(&src, &restored(&t, &src));
}

#[test]
fn a_store_that_keeps_failing_mid_backup_leaves_no_snapshot() {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--pack-size-mib", "1"])
        .assert()
        .success();
    let src = data(&env);
    env.cmd()
        .env("LIFEBOAT_TEST_FAULTS", "write-after=3,kind=transient")
        .arg("backup")
        .arg(&src)
        .assert()
        .failure()
        .stderr(predicate::str::contains("gave up after"));
    assert_eq!(snapshot_count(&env), 0);
    env.cmd().arg("check").assert().success();
    env.cmd().arg("backup").arg(&src).assert().success();
    env.cmd().arg("prune").assert().success();
    env.cmd().args(["check", "--read-data"]).assert().success();
}

#[test]
fn a_store_that_keeps_failing_mid_prune_leaves_a_valid_repository() {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--pack-size-mib", "1"])
        .assert()
        .success();
    let src = data(&env);
    env.backup(&[&src]);
    for i in 0..8u64 {
        write(&src.join(format!("f{i}")), &pseudo_random(600_000, 50 + i));
    }
    env.backup(&[&src]);
    env.cmd()
        .args(["forget", "--keep-last", "1"])
        .assert()
        .success();
    // Deletes fail after the first one: prune stops part-way.
    env.cmd()
        .env("LIFEBOAT_TEST_FAULTS", "remove-after=1,kind=transient")
        .arg("prune")
        .assert()
        .failure();
    env.cmd().args(["check", "--read-data"]).assert().success();
    // Writes fail during repacking/indexing: nothing is deleted, nothing lost.
    env.cmd()
        .env("LIFEBOAT_TEST_FAULTS", "write-after=0,kind=transient")
        .arg("prune")
        .assert()
        .failure();
    env.cmd().args(["check", "--read-data"]).assert().success();
    env.cmd().arg("prune").assert().success();
    env.cmd().args(["check", "--read-data"]).assert().success();
    let t = env.path("t");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&t)
        .assert()
        .success();
    assert_same_tree(&src, &restored(&t, &src));
}
