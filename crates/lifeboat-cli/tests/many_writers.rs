//! Many writers on one S3 repository: three hosts back up at the same time while a prune runs;
//! everything succeeds, nothing is lost, and `check --read-data` passes afterwards.

mod common;
mod moto;

use common::*;
use std::process::{Child, Command, Stdio};

fn spawn(env: &Env, moto: &moto::Moto, repo: &str, args: &[String]) -> Child {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("lifeboat"));
    c.env("LIFEBOAT_INSECURE_TEST_KDF", "1")
        .env("LIFEBOAT_REPOSITORY", repo)
        .env("LIFEBOAT_PASSWORD", &env.password)
        .env("LIFEBOAT_LOCK_WAIT", "300")
        .env("HOME", env.dir.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    c.spawn().expect("spawn lifeboat")
}

#[test]
fn three_concurrent_backups_and_a_prune_on_s3_lose_nothing() {
    let moto = moto::Moto::start();
    moto.bucket("shared", false);
    let env = Env::uninit();
    let repo = moto.repo("shared", "fleet");
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = spawn(&env, &moto, &repo, &args).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&["init", "--pack-size-mib", "1"]);

    // Some history for prune to work on: an old snapshot whose data becomes garbage.
    let old = env.path("old");
    write(&old.join("garbage"), &pseudo_random(3_000_000, 1));
    run(&["backup", "--host", "old-host", old.to_str().unwrap()]);
    run(&["forget", "--host", "old-host", "--keep-last", "0"]);

    // Three hosts with overlapping content (shared files dedup across hosts).
    let shared = pseudo_random(2_000_000, 7);
    let mut sources = Vec::new();
    for h in 0..3u64 {
        let src = env.path(&format!("host{h}"));
        write(&src.join("shared.bin"), &shared);
        for i in 0..4u64 {
            write(
                &src.join(format!("own/{i}.bin")),
                &pseudo_random(700_000, 100 * h + i),
            );
        }
        sources.push(src);
    }
    let mut children: Vec<(String, Child)> = Vec::new();
    for (h, src) in sources.iter().enumerate() {
        let args = vec![
            "backup".to_string(),
            "--host".to_string(),
            format!("host{h}"),
            src.display().to_string(),
        ];
        children.push((format!("backup host{h}"), spawn(&env, &moto, &repo, &args)));
    }
    children.push((
        "prune".into(),
        spawn(&env, &moto, &repo, &["prune".to_string()]),
    ));
    for (what, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A second prune after the backups must not remove anything they reference either.
    run(&["prune"]);

    let check = run(&["check", "--read-data", "--json"]);
    let check: serde_json::Value = serde_json::from_slice(&check).unwrap();
    assert_eq!(check["errors"].as_array().unwrap().len(), 0, "{check}");
    let snaps: serde_json::Value = serde_json::from_slice(&run(&["snapshots", "--json"])).unwrap();
    let hosts: Vec<&str> = snaps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hosts.len(), 3, "{snaps}");
    for (h, src) in sources.iter().enumerate() {
        let id = snaps
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["hostname"] == format!("host{h}"))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let target = env.path(&format!("restore{h}"));
        run(&["restore", &id, "--target", target.to_str().unwrap()]);
        assert_same_tree(src, &restored(&target, src));
    }
}
