//! Shared helpers for the binary's integration tests.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// A test repository in a temporary directory with a password.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub repo: PathBuf,
    pub password: String,
}

impl Env {
    /// A new environment with an initialized repository.
    pub fn new() -> Env {
        let env = Env::uninit();
        env.cmd().arg("init").assert().success();
        env
    }

    /// A new environment without a repository.
    pub fn uninit() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        Env {
            dir,
            repo,
            password: "correct horse".into(),
        }
    }

    /// The lifeboat command with repository and password set.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("lifeboat").expect("binary");
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
            .env("LIFEBOAT_REPOSITORY", &self.repo)
            .env("LIFEBOAT_PASSWORD", &self.password)
            .env("LIFEBOAT_LOCK_WAIT", "2");
        c
    }

    /// A path inside the temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `lifeboat ARGS --json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cmd().args(args).arg("--json").output().expect("run");
        assert!(
            out.status.success(),
            "lifeboat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    /// Runs `lifeboat ARGS --json`, expecting failure, and parses stdout.
    pub fn json_fail(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cmd().args(args).arg("--json").output().expect("run");
        assert!(
            !out.status.success(),
            "lifeboat {args:?} unexpectedly succeeded"
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    /// Backs up paths, returns the snapshot id.
    pub fn backup(&self, paths: &[&Path]) -> String {
        let mut args = vec!["backup".to_string()];
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        self.json(&a)["snapshot_id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    /// All objects under a repository directory.
    pub fn objects(&self, dir: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.repo.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out.sort();
        out
    }
}

/// Writes a file, creating parents.
pub fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Deterministic pseudo-random bytes.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Compares two trees: names, types, contents, modes, mtimes, symlink targets.
pub fn assert_same_tree(a: &Path, b: &Path) {
    use std::os::unix::fs::MetadataExt;
    let mut names_a: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut names_b: Vec<_> = std::fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names_a.sort();
    names_b.sort();
    assert_eq!(
        names_a,
        names_b,
        "entries of {} vs {}",
        a.display(),
        b.display()
    );
    for n in names_a {
        let (pa, pb) = (a.join(&n), b.join(&n));
        let (ma, mb) = (
            std::fs::symlink_metadata(&pa).unwrap(),
            std::fs::symlink_metadata(&pb).unwrap(),
        );
        assert_eq!(ma.file_type(), mb.file_type(), "type of {}", pa.display());
        if ma.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(&pa).unwrap(),
                std::fs::read_link(&pb).unwrap()
            );
            continue;
        }
        assert_eq!(
            ma.mode() & 0o7777,
            mb.mode() & 0o7777,
            "mode of {}",
            pa.display()
        );
        if ma.is_dir() {
            assert_same_tree(&pa, &pb);
        } else {
            assert_eq!(
                std::fs::read(&pa).unwrap(),
                std::fs::read(&pb).unwrap(),
                "content of {}",
                pa.display()
            );
        }
        assert_eq!(ma.mtime(), mb.mtime(), "mtime of {}", pa.display());
        assert_eq!(
            ma.mtime_nsec(),
            mb.mtime_nsec(),
            "mtime ns of {}",
            pa.display()
        );
    }
}

/// Path of `src` inside a restore target (snapshots keep absolute paths).
pub fn restored(target: &Path, src: &Path) -> PathBuf {
    target.join(src.strip_prefix("/").unwrap())
}
