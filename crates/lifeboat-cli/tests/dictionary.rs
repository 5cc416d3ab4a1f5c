//! Compression dictionaries: trained once from the first backup's data, used by later backups,
//! named by check when missing or damaged, never deleted by prune. (How much a dictionary saves
//! is tested in lifeboat-core's `zblob` tests and measured in docs/benchmarks.md: comparing two
//! repositories here would compare their secret chunker seeds as much as their dictionaries.)

mod common;

use common::*;
use predicates::prelude::*;
use std::path::PathBuf;

/// About `mib` MiB of a text table dump: rows differ (pseudo-random ids and values) but share
/// their shape and a vocabulary of a few hundred row templates, like the SQL dumps
/// dictionaries are for (each chunk alone meets many templates for the first time).
fn table(mib: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: Vec<String> = (0..400)
        .map(|_| {
            let n = 4 + next() % 7;
            (0..n)
                .map(|_| (b'a' + (next() % 26) as u8) as char)
                .collect()
        })
        .collect();
    let templates: Vec<String> = (0..300)
        .map(|_| {
            let fields: Vec<String> = (0..6)
                .map(|_| {
                    format!(
                        "\"{}_{}\": \"{} {}\"",
                        words[(next() % 400) as usize],
                        words[(next() % 400) as usize],
                        words[(next() % 400) as usize],
                        words[(next() % 400) as usize]
                    )
                })
                .collect();
            fields.join(", ")
        })
        .collect();
    let mut y = seed.wrapping_mul(6364136223846793005) | 1;
    let mut out = Vec::with_capacity(mib << 20);
    let mut row = 0u64;
    while out.len() < mib << 20 {
        y ^= y << 13;
        y ^= y >> 7;
        y ^= y << 17;
        row += 1;
        out.extend_from_slice(
            format!(
                "{row}\t{:016x}\t2024-01-{:02}\t{{{}, \"amount\": {}}}\n",
                y,
                1 + (y >> 8) % 28,
                templates[(y % 300) as usize],
                (y >> 20) % 10_000,
            )
            .as_bytes(),
        );
    }
    out
}

fn backup_stream(env: &Env, name: &str, data: &[u8]) -> String {
    let out = env
        .cmd()
        .args(["backup", "--stdin", "--stdin-name", name, "--json"])
        .write_stdin(data.to_vec())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["snapshot_id"].as_str().unwrap().to_string()
}

fn dump(env: &Env, snap: &str) -> std::process::Output {
    env.cmd().args(["dump", snap]).output().unwrap()
}

fn dicts(env: &Env) -> Vec<PathBuf> {
    env.objects("dicts")
}

#[test]
fn dictionary_is_trained_once_used_again_and_restores_identically() {
    let env = Env::new();
    let day1 = table(12, 1);
    let s1 = backup_stream(&env, "dump.sql", &day1);
    assert_eq!(
        dicts(&env).len(),
        1,
        "the first large backup trains one dictionary"
    );
    let day2 = table(12, 2);
    let s2 = backup_stream(&env, "dump.sql", &day2);
    assert_eq!(dicts(&env).len(), 1, "later backups reuse it");
    // The second backup compressed with it from its first blob; the first one may or may not
    // have used it for its last blobs (training runs while the backup goes on).
    let stored = dicts(&env)[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let snaps = env.json(&["snapshots"]);
    let of = |id: &str| {
        snaps
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["dictionary"]
            .clone()
    };
    assert_eq!(of(&s2), serde_json::json!(stored));
    assert!(of(&s1).is_null() || of(&s1) == serde_json::json!(stored));
    assert_eq!(dump(&env, &s1).stdout, day1);
    assert_eq!(dump(&env, &s2).stdout, day2);
    env.cmd().args(["check", "--read-data"]).assert().success();
}

#[test]
fn no_compression_dictionary_repositories_train_none() {
    let env = Env::uninit();
    env.cmd()
        .args(["init", "--no-compression-dictionary"])
        .assert()
        .success();
    let s = backup_stream(&env, "dump.sql", &table(12, 3));
    assert!(dicts(&env).is_empty());
    assert_eq!(dump(&env, &s).stdout, table(12, 3));
}

#[test]
fn small_backups_train_no_dictionary() {
    let env = Env::new();
    let s = backup_stream(&env, "small.sql", &table(1, 4));
    assert!(dicts(&env).is_empty());
    assert_eq!(dump(&env, &s).stdout, table(1, 4));
}

#[test]
fn deleted_dictionary_is_named_by_check_and_dump_fails() {
    let env = Env::new();
    // The first backup trains the dictionary (most of its blobs are compressed before it is
    // ready); the second uses it from its first blob.
    backup_stream(&env, "first.sql", &table(12, 5));
    let uses = backup_stream(&env, "dump.sql", &table(12, 9));
    let d = dicts(&env).pop().unwrap();
    let name = d.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::remove_file(&d).unwrap();
    env.cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!("dicts/{name}")));
    env.cmd()
        .args(["check", "--read-data"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("dump.sql"));
    let out = dump(&env, &uses);
    assert!(!out.status.success());
    assert!(out.stdout.len() < 12 << 20, "no full stream written");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("dicts/{name}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn flipped_byte_in_dictionary_is_named_by_check_and_backups_go_on() {
    let env = Env::new();
    backup_stream(&env, "dump.sql", &table(12, 6));
    let d = dicts(&env).pop().unwrap();
    let name = d.file_name().unwrap().to_string_lossy().into_owned();
    let mut b = std::fs::read(&d).unwrap();
    b[100] ^= 0x01;
    std::fs::write(&d, b).unwrap();
    env.cmd()
        .arg("check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(&name));
    // Backups go on (without the damaged dictionary) and their data restores.
    let data = table(12, 11);
    let s = backup_stream(&env, "next.sql", &data);
    assert_eq!(dump(&env, &s).stdout, data);
}

#[test]
fn prune_keeps_dictionaries() {
    let env = Env::new();
    backup_stream(&env, "dump.sql", &table(12, 7));
    env.cmd()
        .args(["forget", "--keep-last", "0", "--prune"])
        .assert()
        .success();
    assert_eq!(dicts(&env).len(), 1);
    let s = backup_stream(&env, "dump.sql", &table(12, 8));
    assert_eq!(dicts(&env).len(), 1);
    assert_eq!(dump(&env, &s).stdout, table(12, 8));
    env.cmd().args(["check", "--read-data"]).assert().success();
}

#[test]
fn data_a_dictionary_would_not_help_trains_none() {
    // Very regular rows compress better without history from elsewhere: training checks the
    // dictionary on held-out chunks and keeps none.
    let regular: Vec<u8> = (0..400_000u64)
        .map(|r| {
            format!(
                "{r}\tevent_{}\t{{\"user\": {}, \"kind\": \"click\"}}\n",
                r % 5,
                r * 31
            )
        })
        .collect::<String>()
        .into_bytes();
    let env = Env::new();
    let s = backup_stream(&env, "regular.sql", &regular);
    assert!(dicts(&env).is_empty());
    assert_eq!(dump(&env, &s).stdout, regular);
}
