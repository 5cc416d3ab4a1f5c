//! `lifeboat copy` through the real binary: local to local with another password (re-encrypted,
//! deduplicated, never duplicated), a damaged source, and local -> S3 -> S3 -> local (moto).

mod common;
mod moto;

use common::{assert_same_tree, pseudo_random, restored, write, Env};
use predicates::str::contains;
use std::collections::HashSet;
use std::path::Path;

fn copy(src: &Env, dst: &Env, extra: &[&str]) -> serde_json::Value {
    let out = src
        .cmd()
        .args(["copy", "--to", dst.repo.to_str().unwrap(), "--json"])
        .args(extra)
        .env("LIFEBOAT_TO_PASSWORD", &dst.password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "copy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pack_names(env: &Env) -> HashSet<String> {
    env.objects("data")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn tree(root: &Path) {
    write(&root.join("big.bin"), &pseudo_random(3 << 20, 1));
    write(&root.join("dir/small.txt"), b"small file");
    write(&root.join("dir/empty"), b"");
    std::fs::create_dir_all(root.join("emptydir")).unwrap();
    std::os::unix::fs::symlink("dir/small.txt", root.join("link")).unwrap();
}

#[test]
fn copy_twice_without_duplicates_reencrypted_under_the_destination_password() {
    let a = Env::new();
    let mut b = Env::uninit();
    b.password = "a different password".into();
    b.cmd().arg("init").assert().success();
    let src = a.path("src");
    tree(&src);
    let s1 = a.backup(&[&src]);
    write(&src.join("dir/new.txt"), b"added on day two");
    let s2 = a.backup(&[&src]);

    let r = copy(&a, &b, &[]);
    let snaps = r["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert!(snaps.iter().all(|s| s["skipped"] == false));
    let first_added = r["bytes_added"].as_u64().unwrap();
    assert!(first_added > 3 << 20, "{r}");

    // Again: nothing copied, nothing added.
    let r = copy(&a, &b, &[]);
    assert!(r["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["skipped"] == true));
    assert_eq!(r["blobs_added"], 0);
    let listed = b.json(&["snapshots"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let origins: HashSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["extra"]["copied_from"].as_str().expect("copied_from"))
        .collect();
    assert_eq!(origins, HashSet::from([s1.as_str(), s2.as_str()]));

    // Re-encrypted: no pack in common, the source password does not open the copy, and the
    // copy restores to the same tree and passes a full check.
    assert!(pack_names(&a).is_disjoint(&pack_names(&b)));
    b.cmd()
        .env("LIFEBOAT_PASSWORD", &a.password)
        .arg("snapshots")
        .assert()
        .failure()
        .stderr(contains("wrong password"));
    b.cmd().args(["check", "--read-data"]).assert().success();
    b.cmd()
        .args(["restore", "latest", "--target"])
        .arg(b.path("out"))
        .assert()
        .success();
    assert_same_tree(&src, &restored(&b.path("out"), &src));

    // A third snapshot: only the new data is added (dedup against the destination).
    write(&src.join("dir/third.txt"), b"day three");
    a.backup(&[&src]);
    let r = copy(&a, &b, &["latest"]);
    assert_eq!(r["snapshots"][0]["skipped"], false);
    assert!(r["bytes_added"].as_u64().unwrap() < 64 * 1024, "{r}");

    // Copying back recognises the originals.
    let r = b
        .cmd()
        .args(["copy", "--to", a.repo.to_str().unwrap(), "--json"])
        .env("LIFEBOAT_TO_PASSWORD", &a.password)
        .output()
        .unwrap();
    assert!(r.status.success());
    assert_eq!(a.json(&["snapshots"]).as_array().unwrap().len(), 3);

    // Both journals record the copy.
    let j = b.json(&["journal"]);
    let last = j
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["operation"] == "copy" && r["arguments"]["role"] == "destination")
        .unwrap()
        .clone();
    assert_eq!(last["result"]["status"], "ok");
    let j = a.json(&["journal"]);
    assert!(j
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["operation"] == "copy" && r["arguments"]["role"] == "source"));
}

#[test]
fn to_password_file_and_default_password() {
    let a = Env::new();
    let b = Env::new(); // same password as the source
    let src = a.path("src");
    write(&src.join("f"), b"x");
    a.backup(&[&src]);
    // Without LIFEBOAT_TO_PASSWORD the source's password is used.
    a.cmd()
        .args(["copy", "--to", b.repo.to_str().unwrap()])
        .assert()
        .success()
        .stdout(contains("copied 1 snapshots"));
    let mut c = Env::uninit();
    c.password = "third".into();
    c.cmd().arg("init").assert().success();
    std::fs::write(a.path("pw"), "third\n").unwrap();
    a.cmd()
        .args([
            "copy",
            "--to",
            c.repo.to_str().unwrap(),
            "--to-password-file",
        ])
        .arg(a.path("pw"))
        .assert()
        .success();
    a.cmd()
        .args(["copy", "--to", c.repo.to_str().unwrap()])
        .env("LIFEBOAT_TO_PASSWORD", "wrong")
        .assert()
        .failure()
        .stderr(contains("destination"))
        .stderr(contains("wrong password"));
}

#[test]
fn damaged_source_pack_stops_the_copy_and_nothing_half_copied_is_referenced() {
    let a = Env::new();
    let b = Env::new();
    let src = a.path("src");
    write(&src.join("big.bin"), &pseudo_random(2 << 20, 7));
    a.backup(&[&src]);
    // Damage the middle of the (only) data pack.
    let packs = a.objects("data");
    let pack = packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(pack).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0xff;
    std::fs::write(pack, bytes).unwrap();
    let name = pack.file_name().unwrap().to_string_lossy().into_owned();
    a.cmd()
        .args(["copy", "--to", b.repo.to_str().unwrap()])
        .env("LIFEBOAT_TO_PASSWORD", &b.password)
        .assert()
        .failure()
        .stderr(contains(&name[..16]))
        .stderr(contains("copy stopped"));
    assert_eq!(b.json(&["snapshots"]).as_array().unwrap().len(), 0);
    let report = b.json(&["check", "--read-data"]);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{report}");
    // The failed copy is journaled in the destination.
    let j = b.json(&["journal"]);
    let rec = j
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation"] == "copy")
        .expect("copy record");
    assert_eq!(rec["result"]["status"], "error");
    assert!(rec["result"]["message"]
        .as_str()
        .unwrap()
        .contains(&name[..16]));
}

#[test]
fn copy_local_to_s3_and_s3_to_local() {
    let moto = moto::Moto::start();
    moto.bucket("offsite", false);
    let a = Env::new();
    let src = a.path("src");
    tree(&src);
    a.backup(&[&src]);
    let s3 = moto.repo("offsite", "replica");
    let with_s3 = |mut c: assert_cmd::Command| {
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c
    };
    let mut init = with_s3(a.cmd());
    init.args(["-r", &s3, "init"])
        .env("LIFEBOAT_PASSWORD", "s3 password")
        .assert()
        .success();
    let mut cp = with_s3(a.cmd());
    cp.args(["copy", "--to", &s3])
        .env("LIFEBOAT_TO_PASSWORD", "s3 password")
        .assert()
        .success()
        .stdout(contains("copied 1 snapshots"));
    let mut again = with_s3(a.cmd());
    again
        .args(["copy", "--to", &s3])
        .env("LIFEBOAT_TO_PASSWORD", "s3 password")
        .assert()
        .success()
        .stdout(contains("copied 0 snapshots"));
    let mut check = with_s3(a.cmd());
    check
        .args(["-r", &s3, "check", "--read-data"])
        .env("LIFEBOAT_PASSWORD", "s3 password")
        .assert()
        .success();
    // S3 -> S3 (another bucket: the third provider of a replication chain).
    moto.bucket("third", false);
    let s3b = moto.repo("third", "r");
    let mut init = with_s3(a.cmd());
    init.args(["-r", &s3b, "init"])
        .env("LIFEBOAT_PASSWORD", "third password")
        .assert()
        .success();
    let mut chain = with_s3(a.cmd());
    chain
        .args(["-r", &s3, "copy", "--to", &s3b])
        .env("LIFEBOAT_PASSWORD", "s3 password")
        .env("LIFEBOAT_TO_PASSWORD", "third password")
        .assert()
        .success()
        .stdout(contains("copied 1 snapshots"));
    let mut check = with_s3(a.cmd());
    check
        .args(["-r", &s3b, "check", "--read-data"])
        .env("LIFEBOAT_PASSWORD", "third password")
        .assert()
        .success();
    // S3 -> a new local repository, then restore from it.
    let c = Env::new();
    let mut back = with_s3(c.cmd());
    back.args(["-r", &s3, "copy", "--to", c.repo.to_str().unwrap()])
        .env("LIFEBOAT_PASSWORD", "s3 password")
        .env("LIFEBOAT_TO_PASSWORD", &c.password)
        .assert()
        .success();
    c.cmd()
        .args(["restore", "latest", "--target"])
        .arg(c.path("out"))
        .assert()
        .success();
    assert_same_tree(&src, &restored(&c.path("out"), &src));
    let mut verify = with_s3(a.cmd());
    verify
        .args(["-r", &s3, "journal", "verify"])
        .env("LIFEBOAT_PASSWORD", "s3 password")
        .assert()
        .success();
}

#[test]
fn later_copies_do_not_reread_data_the_destination_has() {
    let a = Env::new();
    let b = Env::new();
    let src = a.path("src");
    write(&src.join("big.bin"), &pseudo_random(3 << 20, 21));
    a.backup(&[&src]);
    copy(&a, &b, &[]);
    assert!(!b.objects("copymap").is_empty());
    // Damage every data pack of the source: a copy that re-read the big file would fail.
    for pack in a.objects("data") {
        let mut bytes = std::fs::read(&pack).unwrap();
        if bytes.len() > 1 << 20 {
            let i = bytes.len() / 2;
            bytes[i] ^= 0xff;
            std::fs::write(&pack, bytes).unwrap();
        }
    }
    write(&src.join("new.txt"), b"only this is new");
    a.backup(&[&src]);
    let r = copy(&a, &b, &["latest"]);
    assert_eq!(r["snapshots"][0]["skipped"], false, "{r}");
    b.cmd().args(["check", "--read-data"]).assert().success();
    b.cmd()
        .args(["restore", "latest", "--target"])
        .arg(b.path("out"))
        .assert()
        .success();
    assert_eq!(
        std::fs::read(restored(&b.path("out"), &src).join("new.txt")).unwrap(),
        b"only this is new"
    );
    assert_eq!(
        std::fs::read(restored(&b.path("out"), &src).join("big.bin")).unwrap(),
        pseudo_random(3 << 20, 21)
    );
}
