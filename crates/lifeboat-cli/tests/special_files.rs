//! FIFOs, sockets and device nodes: stored as nodes (never opened), restored with mknod.

mod common;

use common::{write, Env};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

fn mknod(path: &std::path::Path, kind: libc::mode_t, mode: u32, dev: libc::dev_t) -> i32 {
    let c = std::ffi::CString::new(path.as_os_str().to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::mknod(c.as_ptr(), kind | mode, dev) }
}

#[test]
fn fifos_sockets_and_devices_back_up_without_blocking_and_restore_as_nodes() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("plain.txt"), b"data");
    assert_eq!(mknod(&src.join("pipe"), libc::S_IFIFO, 0o640, 0), 0);
    let _listener = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // 1:3 is /dev/null's number; only root may create it.
    let null = libc::makedev(1, 3);
    if root {
        assert_eq!(mknod(&src.join("null"), libc::S_IFCHR, 0o666, null), 0);
    }

    // The FIFO has no writer: opening it would block the backup forever.
    let out = env
        .cmd()
        .args(["backup", src.to_str().unwrap(), "--json"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["skipped"].as_array().unwrap().len(), 0, "{v}");

    let ls = env.cmd().args(["ls", "latest", "--json"]).output().unwrap();
    let kinds: std::collections::BTreeMap<String, String> = String::from_utf8(ls.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| {
            (
                e["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(kinds["pipe"], "fifo");
    assert_eq!(kinds["sock"], "socket");
    assert_eq!(kinds["plain.txt"], "file");
    if root {
        assert_eq!(kinds["null"], "chardev");
    }

    let target = env.path("restored");
    let r = env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let back = common::restored(&target, &src);
    let pipe = std::fs::symlink_metadata(back.join("pipe")).unwrap();
    assert!(pipe.file_type().is_fifo());
    assert_eq!(pipe.permissions().mode() & 0o7777, 0o640);
    assert!(std::fs::symlink_metadata(back.join("sock"))
        .unwrap()
        .file_type()
        .is_socket());
    assert_eq!(std::fs::read(back.join("plain.txt")).unwrap(), b"data");
    if root {
        let dev = std::fs::symlink_metadata(back.join("null")).unwrap();
        assert!(dev.file_type().is_char_device());
        assert_eq!(dev.rdev(), null);
        assert_eq!(r["summary"]["specials"], 3, "{r}");
    } else {
        assert_eq!(r["summary"]["specials"], 2, "{r}");
    }
}

#[test]
fn a_fifo_keeps_its_set_id_bits_after_the_owner_is_restored() {
    // Regression: the mode was set before chown, which clears set-user-ID and set-group-ID.
    let env = Env::new();
    let src = env.path("src");
    std::fs::create_dir_all(&src).unwrap();
    assert_eq!(mknod(&src.join("pipe"), libc::S_IFIFO, 0o644, 0), 0);
    std::fs::set_permissions(src.join("pipe"), std::fs::Permissions::from_mode(0o6755)).unwrap();
    env.json(&["backup", src.to_str().unwrap()]);
    let target = env.path("back");
    env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let m = std::fs::symlink_metadata(common::restored(&target, &src).join("pipe")).unwrap();
    assert!(m.file_type().is_fifo());
    assert_eq!(m.mode() & 0o7777, 0o6755);
}
