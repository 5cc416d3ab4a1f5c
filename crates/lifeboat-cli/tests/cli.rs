//! End-to-end tests of the CLI contract (issue: repository engine), driving the real binary.

mod common;

use common::*;
use predicates::prelude::*;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn sample_tree(root: &Path) {
    write(&root.join("a.txt"), b"hello world\n");
    write(&root.join("sub/big.bin"), &pseudo_random(3_000_000, 1));
    write(&root.join("sub/deeper/small"), b"x");
    write(&root.join("unicodé ☃.txt"), "snow".as_bytes());
    let weird = root.join(std::ffi::OsStr::from_bytes(b"bad-\xff\xfe-name"));
    std::fs::write(&weird, b"non-utf8 name").unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).unwrap();
    std::fs::set_permissions(root.join("a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(
        root.join("sub/deeper"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    filetime::set_file_mtime(
        root.join("sub/big.bin"),
        filetime::FileTime::from_unix_time(1_600_000_000, 123_456_789),
    )
    .unwrap();
}

#[test]
fn backup_restore_round_trip_preserves_names_modes_times_links() {
    let env = Env::new();
    let src = env.path("src");
    sample_tree(&src);
    let id = env.backup(&[&src]);
    let target = env.path("restore");
    env.cmd()
        .args(["restore", &id[..10], "--target"])
        .arg(&target)
        .assert()
        .success();
    assert_same_tree(&src, &restored(&target, &src));
    env.cmd()
        .args(["check", "--read-data"])
        .assert()
        .success()
        .stdout(predicate::str::contains("no errors"));
}

#[test]
fn unchanged_rebackup_reads_no_file_content() {
    let env = Env::new();
    let src = env.path("src");
    sample_tree(&src);
    env.backup(&[&src]);
    let second = env.json(&["backup", src.to_str().unwrap()]);
    let s = &second["summary"];
    assert_eq!(s["bytes_read"], 0, "{second}");
    assert_eq!(s["files_new"], 0);
    assert_eq!(s["files_unchanged"], 5);
    // Only ancestor directory trees (such as /tmp, changed by other processes) may be new.
    assert!(s["blobs_added"].as_u64().unwrap() <= 3, "{second}");
    // A modified file is re-read, and only that one.
    write(&src.join("a.txt"), b"changed content\n");
    let third = env.json(&["backup", src.to_str().unwrap()]);
    assert_eq!(third["summary"]["files_changed"], 1, "{third}");
    assert_eq!(third["summary"]["bytes_read"], 16);
}

#[test]
fn exclude_patterns_skip_names_and_paths() {
    let env = Env::new();
    let src = env.path("src");
    sample_tree(&src);
    write(&src.join("cache/x.tmp"), b"tmp");
    let out = env
        .cmd()
        .args(["backup", "--exclude", "*.bin", "--exclude"])
        .arg(format!("{}/cache", src.display()))
        .arg(&src)
        .assert()
        .success();
    drop(out);
    let ls = env.cmd().args(["ls", "latest"]).output().unwrap();
    let text = String::from_utf8_lossy(&ls.stdout);
    assert!(!text.contains("big.bin"), "{text}");
    assert!(!text.contains("cache"), "{text}");
    assert!(text.contains("a.txt"));
}

#[test]
fn ls_json_lines_and_snapshots_json_are_stable() {
    let env = Env::new();
    let src = env.path("src");
    sample_tree(&src);
    env.cmd()
        .args(["backup", "--tag", "daily", "--host", "web1"])
        .arg(&src)
        .assert()
        .success();
    let snaps = env.json(&["snapshots"]);
    let s = &snaps[0];
    for field in [
        "id", "short_id", "time", "hostname", "username", "source", "paths", "tags", "tree",
        "summary",
    ] {
        assert!(s.get(field).is_some(), "missing {field} in {s}");
    }
    assert_eq!(s["hostname"], "web1");
    assert_eq!(s["tags"][0], "daily");
    assert_eq!(s["source"], "files");
    let filtered = env.json(&["snapshots", "--tag", "nope"]);
    assert_eq!(filtered.as_array().unwrap().len(), 0);
    let out = env.cmd().args(["ls", "latest", "--json"]).output().unwrap();
    let lines: Vec<serde_json::Value> = out
        .stdout
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .any(|l| l["type"] == "symlink" && l["link_target"] == "a.txt"));
    assert!(lines
        .iter()
        .any(|l| l["type"] == "dir" && l["path"].as_str().unwrap().ends_with("/empty")));
}

#[test]
fn stdin_backup_records_size_and_sha256_and_dump_verifies() {
    let env = Env::new();
    let data = pseudo_random(500_000, 7);
    let out = env
        .cmd()
        .args(["backup", "--stdin", "--stdin-name", "db.sql", "--json"])
        .write_stdin(data.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stream"]["size"], 500_000);
    use sha2::Digest;
    assert_eq!(
        v["stream"]["sha256"],
        hex::encode(sha2::Sha256::digest(&data))
    );
    let dumped = env.cmd().args(["dump", "latest"]).output().unwrap();
    assert!(dumped.status.success());
    assert_eq!(dumped.stdout, data);
    let dumped = env
        .cmd()
        .args(["dump", "latest", "db.sql"])
        .output()
        .unwrap();
    assert_eq!(dumped.stdout, data);
    let target = env.path("r");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&target)
        .assert()
        .success();
    assert_eq!(std::fs::read(target.join("db.sql")).unwrap(), data);
}

#[test]
fn failing_stdin_command_records_nothing_and_reports_stderr_tail() {
    let env = Env::new();
    env.cmd()
        .args([
            "backup",
            "--stdin-name",
            "dump.sql",
            "--stdin-from-command",
            "--",
            "sh",
            "-c",
        ])
        .arg("head -c 200000 /dev/zero; echo 'pg_dump: error: connection lost' >&2; exit 2")
        .assert()
        .failure()
        .stderr(predicate::str::contains("exited with status 2"))
        .stderr(predicate::str::contains("connection lost"));
    let snaps = env.json(&["snapshots"]);
    assert_eq!(
        snaps.as_array().unwrap().len(),
        0,
        "a failed dump must not be recorded"
    );
    env.cmd().args(["check"]).assert().success();
    // And a command that succeeds is recorded.
    env.cmd()
        .args([
            "backup",
            "--stdin-name",
            "ok.txt",
            "--stdin-from-command",
            "--",
            "echo",
            "fine",
        ])
        .assert()
        .success();
    assert_eq!(
        env.cmd().args(["dump", "latest"]).output().unwrap().stdout,
        b"fine\n"
    );
}

#[test]
fn killed_stdin_command_records_nothing() {
    let env = Env::new();
    env.cmd()
        .args([
            "backup",
            "--stdin-name",
            "d",
            "--stdin-from-command",
            "--",
            "sh",
            "-c",
            "echo data; kill -9 $$",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("killed by a signal"));
    assert_eq!(env.json(&["snapshots"]).as_array().unwrap().len(), 0);
}

#[test]
fn bad_input_errors_are_clear() {
    let env = Env::uninit();
    env.cmd()
        .arg("snapshots")
        .assert()
        .code(10)
        .stderr(predicate::str::contains("not a lifeboat repository"));
    env.cmd().arg("init").assert().success();
    env.cmd()
        .arg("init")
        .assert()
        .failure()
        .stderr(predicate::str::contains("already exists"));
    env.cmd()
        .env("LIFEBOAT_PASSWORD", "wrong")
        .arg("snapshots")
        .assert()
        .code(12)
        .stderr(predicate::str::contains("wrong password"));
    env.cmd()
        .env_remove("LIFEBOAT_PASSWORD")
        .arg("snapshots")
        .assert()
        .failure()
        .stderr(predicate::str::contains("no password given"));
    env.cmd()
        .args(["restore", "deadbeef", "--target", "/tmp/x"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no snapshot matches"));
    env.cmd()
        .args(["backup"])
        .arg(env.path("does-not-exist"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("does-not-exist"));
    env.cmd()
        .args(["forget"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no policy"));
}

#[test]
fn ambiguous_snapshot_prefix_is_refused() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"1");
    let mut ids = Vec::new();
    for i in 0..40 {
        write(&src.join("f"), format!("{i}").as_bytes());
        ids.push(env.backup(&[&src]));
    }
    // With 40 snapshots some share a first hex digit.
    let first: Vec<char> = ids.iter().map(|i| i.chars().next().unwrap()).collect();
    let dup = first
        .iter()
        .find(|c| first.iter().filter(|d| d == c).count() > 1)
        .unwrap();
    env.cmd()
        .args(["ls", &dup.to_string()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("ambiguous"));
    env.cmd().args(["ls", &ids[3]]).assert().success();
}

#[test]
fn restore_refuses_non_empty_target_and_include_restores_subset() {
    let env = Env::new();
    let src = env.path("src");
    sample_tree(&src);
    env.backup(&[&src]);
    let target = env.path("t");
    write(&target.join("existing"), b"keep");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&target)
        .assert()
        .failure()
        .stderr(predicate::str::contains("not empty"));
    env.cmd()
        .args(["restore", "latest", "--overwrite", "--target"])
        .arg(&target)
        .assert()
        .success();
    assert_same_tree(&src, &restored(&target, &src));
    let t2 = env.path("t2");
    let inc = format!("{}/sub", src.display());
    env.cmd()
        .args(["restore", "latest", "--include", &inc, "--target"])
        .arg(&t2)
        .assert()
        .success();
    let r = restored(&t2, &src);
    assert!(r.join("sub/big.bin").exists());
    assert!(!r.join("a.txt").exists());
}

#[test]
fn forget_policy_and_prune_reclaim_space() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..4 {
        write(&src.join("data"), &pseudo_random(400_000, i));
        env.backup(&[&src]);
    }
    let before = env.json(&["stats"]);
    let out = env.json(&["forget", "--keep-last", "2", "--dry-run"]);
    assert_eq!(out["removed"].as_array().unwrap().len(), 2);
    assert_eq!(
        env.json(&["snapshots"]).as_array().unwrap().len(),
        4,
        "dry run removes nothing"
    );
    env.cmd()
        .args(["forget", "--keep-last", "2", "--prune"])
        .assert()
        .success();
    assert_eq!(env.json(&["snapshots"]).as_array().unwrap().len(), 2);
    let after = env.json(&["stats"]);
    assert!(
        after["packs_size"].as_u64().unwrap() < before["packs_size"].as_u64().unwrap() * 3 / 4,
        "{before} {after}"
    );
    env.cmd().args(["check", "--read-data"]).assert().success();
    let t = env.path("t");
    env.cmd()
        .args(["restore", "latest", "--target"])
        .arg(&t)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(restored(&t, &src).join("data")).unwrap(),
        pseudo_random(400_000, 3)
    );
}

#[test]
fn key_add_list_remove_passwd() {
    let env = Env::new();
    env.cmd()
        .args(["key", "add"])
        .env("LIFEBOAT_NEW_PASSWORD", "second")
        .assert()
        .success();
    let keys = env.json(&["key", "list"]);
    assert_eq!(keys.as_array().unwrap().len(), 2);
    env.cmd()
        .env("LIFEBOAT_PASSWORD", "second")
        .arg("snapshots")
        .assert()
        .success();
    let other = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.cmd()
        .args(["key", "remove", &other[..8]])
        .assert()
        .success();
    env.cmd()
        .env("LIFEBOAT_PASSWORD", "second")
        .arg("snapshots")
        .assert()
        .code(12);
    env.cmd()
        .args(["key", "passwd"])
        .env("LIFEBOAT_NEW_PASSWORD", "third")
        .assert()
        .success();
    env.cmd().arg("snapshots").assert().code(12);
    env.cmd()
        .env("LIFEBOAT_PASSWORD", "third")
        .arg("snapshots")
        .assert()
        .success();
}

#[test]
fn password_file_and_command_are_accepted() {
    let env = Env::new();
    let pf = env.path("pw");
    std::fs::write(&pf, format!("{}\n", env.password)).unwrap();
    env.cmd()
        .env_remove("LIFEBOAT_PASSWORD")
        .arg("--password-file")
        .arg(&pf)
        .arg("snapshots")
        .assert()
        .success();
    env.cmd()
        .env_remove("LIFEBOAT_PASSWORD")
        .args([
            "--password-command",
            &format!("echo '{}'", env.password),
            "snapshots",
        ])
        .assert()
        .success();
}

#[test]
fn file_names_are_not_readable_in_the_repository() {
    let env = Env::new();
    let src = env.path("src");
    write(
        &src.join("secret-name-marker.txt"),
        b"secret-content-marker",
    );
    env.backup(&[&src]);
    for f in env.objects("") {
        let bytes = std::fs::read(&f).unwrap();
        for needle in [&b"secret-name-marker"[..], b"secret-content-marker"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} leaks plaintext",
                f.display()
            );
        }
    }
}

#[test]
fn unreadable_files_are_skipped_with_exit_code_3() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("ok.txt"), b"fine");
    write(&src.join("locked.txt"), b"secret");
    std::fs::set_permissions(
        src.join("locked.txt"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    // Root reads everything: run as nobody in that case.
    let mut cmd = if unsafe { libc_geteuid() } == 0 {
        for p in [env.dir.path(), &src, &env.repo] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        chown_recursive(&env.repo, 65534);
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(assert_cmd::cargo::cargo_bin("lifeboat"));
        assert_cmd::Command::from_std(c)
    } else {
        assert_cmd::Command::cargo_bin("lifeboat").unwrap()
    };
    cmd.env("LIFEBOAT_INSECURE_TEST_KDF", "1")
        .env("LIFEBOAT_REPOSITORY", &env.repo)
        .env("LIFEBOAT_PASSWORD", &env.password)
        .env("HOME", "/tmp")
        .arg("backup")
        .arg(&src)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("locked.txt"));
    let ls = env.cmd().args(["ls", "latest"]).output().unwrap();
    let text = String::from_utf8_lossy(&ls.stdout);
    assert!(
        text.contains("ok.txt") && !text.contains("locked.txt"),
        "{text}"
    );
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn chown_recursive(p: &Path, uid: u32) {
    std::process::Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(p)
        .status()
        .unwrap();
}

#[test]
fn full_disk_mid_backup_writes_no_snapshot_and_repository_stays_valid() {
    let env = Env::new();
    let src = env.path("src");
    sample_tree(&src);
    env.backup(&[&src]);
    for i in 0..6 {
        write(
            &src.join(format!("more/{i}")),
            &pseudo_random(2_000_000, 100 + i),
        );
    }
    env.cmd()
        .args(["init", "--pack-size-mib", "1"])
        .env("LIFEBOAT_REPOSITORY", env.path("repo2"))
        .assert()
        .success();
    let repo2 = env.path("repo2");
    env.cmd()
        .env("LIFEBOAT_REPOSITORY", &repo2)
        .env("LIFEBOAT_TEST_FAULTS", "write-after=4,kind=nospace")
        .arg("backup")
        .arg(&src)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no space"));
    assert_eq!(
        env.cmd()
            .env("LIFEBOAT_REPOSITORY", &repo2)
            .args(["snapshots", "--json"])
            .output()
            .unwrap()
            .stdout,
        b"[]\n"
    );
    env.cmd()
        .env("LIFEBOAT_REPOSITORY", &repo2)
        .arg("check")
        .assert()
        .success();
    env.cmd()
        .env("LIFEBOAT_REPOSITORY", &repo2)
        .arg("backup")
        .arg(&src)
        .assert()
        .success();
    env.cmd()
        .env("LIFEBOAT_REPOSITORY", &repo2)
        .args(["check", "--read-data"])
        .assert()
        .success();
}

#[test]
fn unwritable_repository_gives_clear_error() {
    if unsafe { libc_geteuid() } == 0 {
        // Root ignores permissions; the full-disk test covers write failures for root.
        let env = Env::new();
        let src = env.path("src");
        write(&src.join("f"), b"x");
        env.cmd()
            .env("LIFEBOAT_TEST_FAULTS", "write-after=0,kind=permission")
            .arg("backup")
            .arg(&src)
            .assert()
            .failure()
            .stderr(
                predicate::str::contains("permission denied")
                    .or(predicate::str::contains("Permission")),
            );
        return;
    }
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    std::fs::set_permissions(
        env.repo.join("data"),
        std::fs::Permissions::from_mode(0o500),
    )
    .ok();
    env.cmd().arg("backup").arg(&src).assert().failure();
}
