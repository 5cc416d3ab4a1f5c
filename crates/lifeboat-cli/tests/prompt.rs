//! Without a password source and with a terminal on standard input, lifeboat asks for the
//! password (twice for a new one) instead of failing. The terminal is a real pseudo-terminal
//! made by util-linux's `script`.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `lifeboat ARGS` on a pseudo-terminal, typing `input`; returns (exit code, output).
fn on_terminal(repo: &std::path::Path, args: &str, input: &str) -> (i32, String) {
    let line = format!(
        "{} -r {} {args}",
        env!("CARGO_BIN_EXE_lifeboat"),
        repo.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("LIFEBOAT_PASSWORD")
        .env_remove("LIFEBOAT_PASSWORD_FILE")
        .env_remove("LIFEBOAT_PASSWORD_COMMAND")
        .env_remove("LIFEBOAT_CONFIG")
        .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn password_is_asked_on_a_terminal_twice_for_init() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let (code, out) = on_terminal(&repo, "init", "first\nsecond\n");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("the two passwords differ"), "{out}");
    assert!(!repo.join("config").exists());
    let (code, out) = on_terminal(&repo, "init", "typed secret\ntyped secret\n");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("password for"), "{out}");
    let (code, out) = on_terminal(&repo, "snapshots", "typed secret\n");
    assert_eq!(code, 0, "{out}");
    let (code, out) = on_terminal(&repo, "snapshots", "wrong\n");
    assert_eq!(code, 12, "{out}");
}

#[test]
fn without_a_terminal_a_missing_password_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(["-r", &dir.path().join("repo").display().to_string(), "init"])
        .env_remove("LIFEBOAT_PASSWORD")
        .env_remove("LIFEBOAT_PASSWORD_FILE")
        .env_remove("LIFEBOAT_PASSWORD_COMMAND")
        .env_remove("LIFEBOAT_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no password given"), "{err}");
    assert!(err.contains("LIFEBOAT_PASSWORD"), "{err}");
}

#[test]
fn help_shows_postgres_commands_as_users_type_them() {
    let out = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .arg("--help")
        .output()
        .unwrap();
    let top = String::from_utf8_lossy(&out.stdout);
    assert!(
        !top.contains("backup-postgres") && !top.contains("restore-postgres"),
        "{top}"
    );
    for cmd in ["backup", "restore"] {
        let out = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("postgres"), "{cmd} --help: {text}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(["backup", "postgres", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--physical"));
    for form in ["s3:https://", "s3://", "local:", "@NAME"] {
        assert!(top.contains(form), "--repo help names {form}: {top}");
    }
}
