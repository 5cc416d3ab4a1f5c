//! The hash-chained journal, through the real binary: what is recorded, and what `journal
//! verify` detects (a flipped byte, a moved record, a missing record, a truncated or rewritten
//! tail given a saved head).

mod common;

use common::{write, Env};
use predicates::str::contains;

fn records(env: &Env) -> Vec<serde_json::Value> {
    env.json(&["journal"]).as_array().expect("array").clone()
}

fn head(env: &Env) -> String {
    let out = env.cmd().args(["journal", "head"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn record_path(env: &Env, seq: u64) -> std::path::PathBuf {
    env.repo.join(format!("journal/{seq:020}"))
}

/// A repository with init, backup, restore, dump and check journaled (5 records).
fn journaled_env() -> (Env, String) {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"hello journal");
    let id = env.backup(&[&src]);
    env.cmd()
        .args(["restore", &id[..8], "--target"])
        .arg(env.path("out"))
        .assert()
        .success();
    env.cmd()
        .args(["dump", &id, &format!("{}/a.txt", src.display())])
        .assert()
        .success()
        .stdout("hello journal");
    env.cmd().args(["check"]).assert().success();
    (env, id)
}

#[test]
fn operations_are_recorded_with_arguments_results_and_snapshots() {
    let (env, id) = journaled_env();
    let recs = records(&env);
    let ops: Vec<&str> = recs
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["init", "backup", "restore", "dump", "check"]);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1);
        assert_eq!(r["result"]["status"], "ok", "{r}");
        assert!(!r["host"].as_str().unwrap().is_empty());
        assert_eq!(r["hash"].as_str().unwrap().len(), 64);
    }
    assert_eq!(recs[0]["prev_hash"], "0".repeat(64));
    assert_eq!(recs[1]["prev_hash"], recs[0]["hash"]);
    assert_eq!(recs[1]["snapshots"][0], id.as_str());
    let restore = &recs[2];
    assert_eq!(restore["snapshots"][0], id.as_str());
    assert_eq!(
        restore["arguments"]["target"],
        env.path("out").display().to_string()
    );
    assert_eq!(recs[4]["result"]["message"], "0 errors, 0 warnings");

    // A failed operation is recorded with its error.
    env.cmd()
        .args(["restore", "ffffffff", "--target"])
        .arg(env.path("out2"))
        .assert()
        .failure();
    let recs = records(&env);
    let last = recs.last().unwrap();
    assert_eq!(last["operation"], "restore");
    assert_eq!(last["result"]["status"], "error");
    assert!(last["result"]["message"]
        .as_str()
        .unwrap()
        .contains("no snapshot matches"));

    // Listing commands are not journaled; the human listing shows who did what.
    env.cmd().args(["snapshots"]).assert().success();
    assert_eq!(records(&env).len(), 6);
    env.cmd()
        .args(["journal"])
        .assert()
        .success()
        .stdout(contains("restore"))
        .stdout(contains(format!("target={}", env.path("out").display())));
}

#[test]
fn intact_journal_verifies_and_head_names_the_newest_record() {
    let (env, _) = journaled_env();
    let h = head(&env);
    let (seq, hash) = h.split_once(':').expect("SEQ:HASH");
    assert_eq!(seq, "5");
    assert_eq!(hash, records(&env)[4]["hash"].as_str().unwrap());
    env.cmd()
        .args(["journal", "verify", "--head", &h])
        .assert()
        .success()
        .stdout(contains("journal intact: 5 records"));
    let v = env.json(&["journal", "verify"]);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn flipped_byte_is_named_by_sequence_number() {
    let (env, _) = journaled_env();
    let p = record_path(&env, 3);
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&p, bytes).unwrap();
    env.cmd()
        .args(["journal", "verify"])
        .assert()
        .failure()
        .stdout(contains("record 3: unreadable"))
        .stdout(contains("first broken link: record 3"));
    // check reports it too (a flipped byte in any repository object).
    let report = env.json_fail(&["check"]);
    assert!(
        report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("journal record 3:")),
        "{report}"
    );
}

#[test]
fn moved_record_and_missing_record_are_detected() {
    let (env, _) = journaled_env();
    // Record 4 put in place of record 2, record 4 gone: 2 is not what it claims, 4 is missing.
    std::fs::rename(record_path(&env, 4), record_path(&env, 2)).unwrap();
    let v = env.json_fail(&["journal", "verify"]);
    assert_eq!(v["missing"], serde_json::json!([4]));
    assert_eq!(v["first_broken"], 2);
    let kinds: Vec<(u64, String)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["seq"].as_u64().unwrap(),
                p["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(kinds.contains(&(2, "unreadable".into())), "{kinds:?}");
    assert!(kinds.contains(&(4, "missing".into())), "{kinds:?}");
}

#[test]
fn truncated_tail_is_detected_with_a_saved_head() {
    let (env, _) = journaled_env();
    let saved = head(&env);
    std::fs::remove_file(record_path(&env, 5)).unwrap();
    std::fs::remove_file(record_path(&env, 4)).unwrap();
    // Without the saved head, a clean truncation cannot be seen...
    env.cmd().args(["journal", "verify"]).assert().success();
    // ...with it, it is.
    env.cmd()
        .args(["journal", "verify", "--head", &saved])
        .assert()
        .failure()
        .stdout(contains("truncated"))
        .stdout(contains("record 5"));
}

#[test]
fn rewritten_tail_is_detected_with_a_saved_head() {
    let (env, _) = journaled_env();
    let saved = head(&env);
    // Remove the last two records and let new operations take their numbers.
    std::fs::remove_file(record_path(&env, 5)).unwrap();
    std::fs::remove_file(record_path(&env, 4)).unwrap();
    env.cmd().args(["check"]).assert().success();
    env.cmd().args(["check"]).assert().success();
    env.cmd().args(["journal", "verify"]).assert().success();
    env.cmd()
        .args(["journal", "verify", "--head", &saved])
        .assert()
        .failure()
        .stdout(contains("record 5: rewritten"));
    // A bare hash works too.
    let hash = saved.split_once(':').unwrap().1;
    env.cmd()
        .args(["journal", "verify", "--head", hash])
        .assert()
        .failure()
        .stdout(contains("not in the journal"));
}

#[test]
fn bad_saved_head_is_a_clear_error() {
    let env = Env::new();
    env.cmd()
        .args(["journal", "verify", "--head", "12:nothex"])
        .assert()
        .failure()
        .stderr(contains("64 hex digits"));
}
