//! Resilience modes through the real binary: read-only refuses every write and allows reads.

mod common;

use common::{write, Env};
use predicates::str::contains;

#[test]
fn read_only_refuses_writes_and_allows_reads() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"frozen data");
    let id = env.backup(&[&src]);
    env.cmd()
        .args(["mode"])
        .assert()
        .success()
        .stdout(contains("repository mode: normal"));
    env.cmd()
        .args(["mode", "read-only"])
        .assert()
        .success()
        .stdout(contains("now read-only"));
    env.cmd()
        .args(["mode"])
        .assert()
        .success()
        .stdout(contains("repository mode: read-only"));
    let refused = |args: &[&str]| {
        env.cmd()
            .args(args)
            .env("LIFEBOAT_NEW_PASSWORD", "another")
            .assert()
            .failure()
            .stderr(contains("repository is in read-only mode"))
            .stderr(contains("lifeboat mode normal"));
    };
    refused(&["backup", src.to_str().unwrap()]);
    refused(&["backup", "--stdin", "--stdin-name", "x"]);
    refused(&["forget", &id]);
    refused(&["forget", "--keep-last", "1"]);
    refused(&["prune"]);
    refused(&["key", "add"]);
    refused(&["key", "passwd"]);
    let keys = env.json(&["key", "list"]);
    refused(&["key", "remove", keys[0]["id"].as_str().unwrap()]);
    let other = Env::new();
    other
        .cmd()
        .args(["copy", "--to", env.repo.to_str().unwrap()])
        .env("LIFEBOAT_TO_PASSWORD", &env.password)
        .assert()
        .failure()
        .stderr(contains("read-only"));
    // Nothing changed.
    assert_eq!(env.json(&["snapshots"]).as_array().unwrap().len(), 1);
    assert_eq!(env.json(&["key", "list"]).as_array().unwrap().len(), 1);

    // Reads work.
    env.cmd()
        .args(["restore", &id, "--target"])
        .arg(env.path("out"))
        .assert()
        .success();
    env.cmd()
        .args(["dump", &id, &format!("{}/f", src.display())])
        .assert()
        .success()
        .stdout("frozen data");
    env.cmd().args(["check", "--read-data"]).assert().success();
    env.cmd().args(["ls", &id]).assert().success();
    env.cmd().args(["snapshots"]).assert().success();
    env.cmd().args(["stats"]).assert().success();
    env.cmd()
        .args(["forget", "--keep-last", "1", "--dry-run"])
        .assert()
        .success();
    // And copying out of a read-only repository is a read.
    env.cmd()
        .args(["copy", "--to", other.repo.to_str().unwrap()])
        .env("LIFEBOAT_TO_PASSWORD", &other.password)
        .assert()
        .success();

    env.cmd().args(["mode", "normal"]).assert().success();
    env.backup(&[&src]);

    // Mode changes and refusals are journaled.
    let journal = env.json(&["journal"]);
    let entries: Vec<(String, String)> = journal
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().unwrap().to_string(),
                r["result"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        entries.contains(&("mode".into(), "ok".into())),
        "{entries:?}"
    );
    assert!(
        entries.contains(&("backup".into(), "error".into())),
        "{entries:?}"
    );
    assert!(
        entries.contains(&("restore".into(), "ok".into())),
        "{entries:?}"
    );
    env.cmd().args(["journal", "verify"]).assert().success();
}

#[test]
fn unknown_mode_is_refused() {
    let env = Env::new();
    env.cmd()
        .args(["mode", "frozen"])
        .assert()
        .failure()
        .stderr(contains("use read-only or normal"));
}
