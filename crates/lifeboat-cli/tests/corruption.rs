//! Damage and crash tests: flipped bytes, truncated and deleted objects, kill -9 mid-way.
//! Each asserts that the damage is detected and named, and that nothing wrong is restored.

mod common;

use common::*;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A repository with two files in two separate packs: `big.bin` and `other.bin`.
fn setup() -> (Env, PathBuf) {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--pack-size-mib", "1"])
        .assert()
        .success();
    let src = env.path("src");
    write(&src.join("big.bin"), &pseudo_random(1_500_000, 11));
    env.backup(&[&src]);
    write(&src.join("other.bin"), &pseudo_random(300_000, 12));
    env.backup(&[&src]);
    (env, src)
}

fn largest_pack(env: &Env) -> PathBuf {
    env.objects("data")
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap()
}

fn pack_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let i = at.min(b.len() - 1);
    b[i] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

#[test]
fn flipped_byte_in_pack_is_named_by_check_and_restore() {
    let (env, src) = setup();
    let pack = largest_pack(&env);
    let name = pack_name(&pack);
    flip(&pack, 1000);
    env.cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(&name).and(predicate::str::contains("SHA-256")));
    env.cmd()
        .args(["check", "--read-data"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(&name))
        .stdout(predicate::str::contains("affected snapshots and files"))
        .stdout(predicate::str::contains("big.bin"));
    let v = env.json_fail(&["check", "--read-data"]);
    assert!(v["damaged_packs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == name.as_str()));
    assert!(v["affected"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["path"].as_str().unwrap().ends_with("big.bin")));
    let target = env.path("t");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&target)
        .assert()
        .failure()
        .stderr(predicate::str::contains(&name))
        .stderr(predicate::str::contains("big.bin"));
    // Untouched data is still restorable.
    let t2 = env.path("t2");
    let inc = format!("{}/other.bin", src.display());
    env.cmd()
        .args(["restore", "latest", "--include", &inc, "--target"])
        .arg(&t2)
        .assert()
        .success();
    let got = std::fs::read(restored(&t2, &src).join("other.bin")).unwrap();
    assert_eq!(got, pseudo_random(300_000, 12));
}

#[test]
fn truncated_pack_is_detected() {
    let (env, _src) = setup();
    let pack = largest_pack(&env);
    let f = std::fs::OpenOptions::new().write(true).open(&pack).unwrap();
    f.set_len(f.metadata().unwrap().len() / 2).unwrap();
    env.cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(pack_name(&pack)).and(predicate::str::contains("size")));
    env.cmd()
        .args(["dump", "latest"])
        .arg(format!("{}/big.bin", env.path("src").display()))
        .assert()
        .failure()
        .stderr(predicate::str::contains(pack_name(&pack)));
}

#[test]
fn deleted_pack_is_detected_and_affected_files_are_named() {
    let (env, _src) = setup();
    let pack = largest_pack(&env);
    std::fs::remove_file(&pack).unwrap();
    env.cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("missing").and(predicate::str::contains(pack_name(&pack))))
        .stdout(predicate::str::contains("big.bin"));
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(env.path("t"))
        .assert()
        .failure();
    // Prune refuses to work on a damaged repository rather than making it worse.
    env.cmd().arg("prune").assert().failure();
}

#[test]
fn damaged_index_snapshot_and_config_are_named() {
    let (env, _src) = setup();
    let index = env.objects("index").remove(0);
    flip(&index, 50);
    env.cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(pack_name(&index)));
    env.cmd().arg("snapshots").assert().success();
    env.cmd()
        .args(["ls", "latest"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("corrupt"));

    let (env, _src) = setup();
    let snap = env.objects("snapshots").remove(0);
    let sname = pack_name(&snap);
    std::fs::write(&snap, b"garbage").unwrap();
    env.cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(&sname));
    env.cmd()
        .args(["ls", &sname[..12]])
        .assert()
        .failure()
        .stderr(predicate::str::contains(&sname));

    let (env, _src) = setup();
    std::fs::write(env.repo.join("config"), b"{not json").unwrap();
    env.cmd()
        .arg("snapshots")
        .assert()
        .failure()
        .stderr(predicate::str::contains("config"));

    let (env, _src) = setup();
    for k in env.objects("keys") {
        std::fs::remove_file(k).unwrap();
    }
    env.cmd().arg("snapshots").assert().code(12);
}

#[test]
fn kill_9_during_backup_leaves_a_valid_repository() {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--pack-size-mib", "1"])
        .assert()
        .success();
    let src = env.path("src");
    for i in 0..40 {
        write(
            &src.join(format!("d{}/f{i}", i % 5)),
            &pseudo_random(600_000, 1000 + i),
        );
    }
    let bin = assert_cmd::cargo::cargo_bin("lifeboat");
    for (round, delay_ms) in [30u64, 120, 250, 400].into_iter().enumerate() {
        let mut child = std::process::Command::new(&bin)
            .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
            .env("LIFEBOAT_REPOSITORY", &env.repo)
            .env("LIFEBOAT_PASSWORD", &env.password)
            .args(["backup", "--force", "-q"])
            .arg(&src)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        env.cmd().arg("check").assert().success();
        // Every snapshot that exists is complete.
        env.cmd().args(["check", "--read-data"]).assert().success();
        let _ = round;
    }
    // The next backup succeeds (the dead process's lock is stale) and prune cleans leftovers.
    env.backup(&[&src]);
    env.cmd().arg("prune").assert().success();
    let check = env.json(&["check", "--read-data"]);
    assert_eq!(check["errors"].as_array().unwrap().len(), 0);
    assert!(
        check["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| !w.as_str().unwrap().contains("not in any index")),
        "{check}"
    );
    let t = env.path("t");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&t)
        .assert()
        .success();
    assert_same_tree(&src, &restored(&t, &src));
}

#[test]
fn kill_9_during_prune_leaves_a_valid_repository() {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--pack-size-mib", "1"])
        .assert()
        .success();
    let src = env.path("src");
    let bin = assert_cmd::cargo::cargo_bin("lifeboat");
    for (round, delay_ms) in [5u64, 25, 60, 150].into_iter().enumerate() {
        for i in 0..4u64 {
            write(
                &src.join(format!("f{i}")),
                &pseudo_random(700_000, round as u64 * 10 + i),
            );
            env.backup(&[&src]);
        }
        env.cmd()
            .args(["forget", "--keep-last", "1"])
            .assert()
            .success();
        let mut child = std::process::Command::new(&bin)
            .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
            .env("LIFEBOAT_REPOSITORY", &env.repo)
            .env("LIFEBOAT_PASSWORD", &env.password)
            .arg("prune")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        env.cmd().args(["check", "--read-data"]).assert().success();
        env.cmd().arg("prune").assert().success();
        env.cmd().args(["check", "--read-data"]).assert().success();
    }
    let t = env.path("t");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&t)
        .assert()
        .success();
    assert_same_tree(&src, &restored(&t, &src));
}
