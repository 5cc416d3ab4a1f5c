//! Write-only keys through the real binary: a host holding only a write-only key backs up (with
//! deduplication) but cannot list, restore, dump, forget, prune, check or change keys; a full key
//! reads everything it wrote.

mod common;

use common::{assert_same_tree, pseudo_random, restored, write, Env};
use predicates::str::contains;

#[test]
fn write_only_host_backs_up_but_cannot_read_back() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("big.bin"), &pseudo_random(2 << 20, 11));
    write(&src.join("secret-name.txt"), b"top secret");
    let full_snapshot = env.backup(&[&src]);
    env.cmd()
        .args(["key", "add", "--write-only"])
        .env("LIFEBOAT_NEW_PASSWORD", "host key")
        .assert()
        .success()
        .stdout(contains("added write-only key"))
        .stdout(contains("age1"));
    let keys = env.json(&["key", "list"]);
    assert!(keys
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kind"] == "write-only"));

    let host = |args: &[&str]| {
        let mut c = env.cmd();
        c.env("LIFEBOAT_PASSWORD", "host key").args(args);
        c
    };
    // Backup works, and deduplicates against what is there.
    write(&src.join("new.txt"), b"written by the host");
    let out = host(&["backup", src.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wo_snapshot = v["snapshot_id"].as_str().unwrap().to_string();
    assert!(
        v["summary"]["bytes_added_raw"].as_u64().unwrap() < 64 * 1024,
        "dedup: {v}"
    );
    host(&["backup", "--stdin", "--stdin-name", "dump.sql"])
        .write_stdin("a stream from the host")
        .assert()
        .success();

    // Everything that reads data, names or snapshots is refused.
    let refused = |args: &[&str]| {
        host(args)
            .env("LIFEBOAT_NEW_PASSWORD", "escalate")
            .assert()
            .failure()
            .stderr(contains("write-only key"));
    };
    let target = env.path("out");
    refused(&[
        "restore",
        &wo_snapshot,
        "--target",
        target.to_str().unwrap(),
    ]);
    refused(&["restore", "latest", "--target", target.to_str().unwrap()]);
    refused(&["dump", &full_snapshot]);
    refused(&["ls", &wo_snapshot]);
    refused(&["snapshots"]);
    refused(&["forget", &full_snapshot]);
    refused(&["forget", "--keep-last", "1"]);
    refused(&["prune"]);
    refused(&["check"]);
    refused(&["key", "add"]);
    refused(&["key", "passwd"]);
    refused(&["mode", "read-only"]);
    assert!(!target.exists() || std::fs::read_dir(&target).unwrap().next().is_none());

    // The full key reads what the host wrote.
    assert_eq!(env.json(&["snapshots"]).as_array().unwrap().len(), 3);
    env.cmd().args(["check", "--read-data"]).assert().success();
    env.cmd()
        .args(["restore", &wo_snapshot, "--target"])
        .arg(&target)
        .assert()
        .success();
    assert_same_tree(&src, &restored(&target, &src));
    env.cmd()
        .args(["dump", "latest"])
        .assert()
        .success()
        .stdout("a stream from the host");
    // The host's backups are journaled like any other.
    let j = env.json(&["journal"]);
    assert!(j
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["operation"] == "backup" && r["snapshots"][0] == wo_snapshot.as_str()));
    env.cmd().args(["journal", "verify"]).assert().success();
    // Forget and prune with the full key handle the host's data.
    env.cmd()
        .args(["forget", "--keep-last", "1", "--prune"])
        .assert()
        .success();
    env.cmd().args(["check", "--read-data"]).assert().success();
}
