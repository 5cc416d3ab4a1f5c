//! SIGINT stops the real binary within a second (SIGTERM takes the same path): exit code 130, the lock released, the
//! journal says `cancelled`, nothing that points at missing data, and the next backup works.

mod common;

use common::Env;
use std::time::{Duration, Instant};

fn signal(child: &std::process::Child, sig: libc::c_int) {
    // SAFETY: kill has no memory preconditions.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

fn wait_with_deadline(child: &mut std::process::Child, limit: Duration) -> (i32, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), t0.elapsed());
        }
        assert!(
            t0.elapsed() < limit,
            "lifeboat did not stop within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_stops_a_stream_backup_whose_command_is_silent() {
    let env = Env::new();
    // The command writes a few megabytes and then produces nothing: the reader would block.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
        .env("LIFEBOAT_REPOSITORY", &env.repo)
        .env("LIFEBOAT_PASSWORD", &env.password)
        .args([
            "backup",
            "--stdin-name",
            "slow.bin",
            "--stdin-from-command",
            "--",
        ])
        .args(["sh", "-c", "head -c 3000000 /dev/urandom; sleep 60"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, libc::SIGINT);
    let (code, took) = wait_with_deadline(&mut child, Duration::from_secs(5));
    assert_eq!(code, 130);
    assert!(took < Duration::from_secs(2), "stopped after {took:?}");
    let out = env.cmd().args(["snapshots", "--json"]).output().unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
    env.cmd().args(["check", "--read-data"]).assert().success();
    let journal = env.json(&["journal"]);
    assert!(
        journal
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["operation"] == "backup" && r["result"]["status"] == "cancelled"),
        "{journal}"
    );
    // The lock is gone: an exclusive operation runs at once.
    env.cmd()
        .env("LIFEBOAT_LOCK_WAIT", "0")
        .arg("prune")
        .assert()
        .success();
}
