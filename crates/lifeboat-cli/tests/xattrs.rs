//! Extended attributes and POSIX ACLs: stored per node, restored where the target takes them,
//! a warning per attribute it refuses, `--no-xattrs` on either side.

mod common;

use common::{write, Env};
use std::path::Path;
use std::process::Command;

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs an `acl` tool; in CI (where the test command installs them) a missing tool fails.
fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} (Debian package acl) is needed: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `getfacl` of a path without the `# file:` header (which names the path).
fn acl(path: &Path) -> String {
    tool("getfacl", &["--omit-header", "--", path.to_str().unwrap()])
}

fn get(path: &Path, name: &str) -> Option<Vec<u8>> {
    xattr::get(path, name).unwrap()
}

#[test]
fn xattrs_and_acls_round_trip_and_show_in_ls_and_diff() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("doc.txt"), b"hello");
    write(&src.join("shared/report.csv"), b"a,b\n1,2\n");
    write(&src.join("plain"), b"no attributes");
    std::os::unix::fs::symlink("doc.txt", src.join("link")).unwrap();
    let doc = src.join("doc.txt");
    // A binary value that is not UTF-8, and an empty one.
    xattr::set(&doc, "user.checksum", &[0xff, 0x00, 0xfe, 0x80]).unwrap();
    xattr::set(&doc, "user.empty", b"").unwrap();
    xattr::set(src.join("shared"), "user.owner_team", b"finance").unwrap();
    // An access ACL on a file and a default ACL on a directory.
    tool(
        "setfacl",
        &["-m", "u:65534:rw-,g:65534:r--", doc.to_str().unwrap()],
    );
    tool(
        "setfacl",
        &[
            "-d",
            "-m",
            "u:65534:rwx",
            src.join("shared").to_str().unwrap(),
        ],
    );
    if root() {
        // A namespace only root may write.
        xattr::set(&doc, "trusted.lifeboat_test", b"t").unwrap();
    }
    let doc_acl = acl(&doc);
    let shared_acl = acl(&src.join("shared"));
    assert!(doc_acl.contains("user:nobody:rw-") || doc_acl.contains("user:65534:rw-"));

    let b = env.json(&["backup", src.to_str().unwrap()]);
    assert_eq!(b["skipped"].as_array().unwrap().len(), 0, "{b}");

    // ls --json names the attributes.
    let ls = env.cmd().args(["ls", "latest", "--json"]).output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(ls.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let entry = |name: &str| {
        lines
            .iter()
            .find(|e| e["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not listed"))
            .clone()
    };
    let names = entry("/doc.txt")["xattrs"].clone();
    for n in ["system.posix_acl_access", "user.checksum", "user.empty"] {
        assert!(names.as_array().unwrap().contains(&n.into()), "{names}");
    }
    assert!(entry("/plain")["xattrs"].is_null());

    let target = env.path("restored");
    let r = env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(r["summary"]["xattrs_skipped"], 0, "{r}");
    assert!(r["summary"]["xattrs"].as_u64().unwrap() >= 5, "{r}");
    let back = common::restored(&target, &src);
    let bdoc = back.join("doc.txt");
    assert_eq!(
        get(&bdoc, "user.checksum").unwrap(),
        [0xff, 0x00, 0xfe, 0x80]
    );
    assert_eq!(get(&bdoc, "user.empty").unwrap(), b"");
    assert_eq!(
        get(&back.join("shared"), "user.owner_team").unwrap(),
        b"finance"
    );
    assert_eq!(acl(&bdoc), doc_acl);
    assert_eq!(acl(&back.join("shared")), shared_acl);
    // The default ACL is what new files in the directory inherit.
    assert!(acl(&back.join("shared")).contains("default:user:"));
    assert_eq!(get(&back.join("plain"), "user.checksum"), None);
    if root() {
        assert_eq!(get(&bdoc, "trusted.lifeboat_test").unwrap(), b"t");
    }

    // A changed attribute alone is a metadata change in diff.
    let first = b["snapshot_id"].as_str().unwrap().to_string();
    xattr::set(&doc, "user.checksum", b"new").unwrap();
    let b2 = env.json(&["backup", src.to_str().unwrap()]);
    let second = b2["snapshot_id"].as_str().unwrap();
    let d = env.json(&["diff", &first, second]);
    let changes = d["changes"].as_array().unwrap();
    let c = changes
        .iter()
        .find(|c| c["path"].as_str().unwrap().ends_with("/doc.txt"))
        .unwrap_or_else(|| panic!("doc.txt not in {d}"));
    assert_eq!(c["change"], "metadata", "{c}");
    assert!(c["fields"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("xattrs")));
}

#[test]
fn no_xattrs_leaves_them_out_on_backup_and_on_restore() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"x");
    xattr::set(src.join("f"), "user.k", b"v").unwrap();

    // Recorded, but not restored with --no-xattrs.
    env.json(&["backup", src.to_str().unwrap()]);
    let t1 = env.path("t1");
    let r = env.json(&[
        "restore",
        "latest",
        "--target",
        t1.to_str().unwrap(),
        "--no-xattrs",
    ]);
    assert_eq!(r["summary"]["xattrs"], 0, "{r}");
    let f1 = common::restored(&t1, &src).join("f");
    assert_eq!(std::fs::read(&f1).unwrap(), b"x");
    assert_eq!(get(&f1, "user.k"), None);

    // Not recorded with backup --no-xattrs.
    env.json(&["backup", src.to_str().unwrap(), "--no-xattrs", "--force"]);
    let t2 = env.path("t2");
    env.json(&["restore", "latest", "--target", t2.to_str().unwrap()]);
    assert_eq!(get(&common::restored(&t2, &src).join("f"), "user.k"), None);
}

/// An attribute the target refuses (here `trusted.*`, which needs CAP_SYS_ADMIN, restored
/// by an unprivileged user) is left out with a warning naming the file; the rest restores.
#[test]
fn an_attribute_the_target_refuses_warns_per_file_and_the_restore_goes_on() {
    if !root() {
        // Without root no trusted.* attribute can be made to begin with; CI runs as root.
        assert!(
            std::env::var("CI").is_err(),
            "this test needs root in CI (it sets a trusted.* attribute)"
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"payload");
    xattr::set(src.join("f"), "trusted.only_root", b"1").unwrap();
    xattr::set(src.join("f"), "user.anyone", b"2").unwrap();
    env.json(&["backup", src.to_str().unwrap()]);

    // Restore as nobody into a directory nobody owns.
    for p in [env.dir.path(), &src] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let status = Command::new("chown")
        .args(["-R", "65534:65534", env.repo.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let target = env.path("as_nobody");
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("lifeboat"))
        .env("LIFEBOAT_INSECURE_TEST_KDF", "1")
        .env("LIFEBOAT_REPOSITORY", &env.repo)
        .env("LIFEBOAT_PASSWORD", &env.password)
        .env("HOME", "/tmp")
        .args(["restore", "latest", "--json", "--target"])
        .arg(&target);
    let out = c.output().expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["xattrs_skipped"], 1, "{v}");
    assert_eq!(v["summary"]["xattrs"], 1, "{v}");
    assert!(
        stderr.contains("trusted.only_root") && stderr.contains("/f"),
        "the warning names the attribute and the file: {stderr}"
    );
    let f = common::restored(&target, &src).join("f");
    assert_eq!(std::fs::read(&f).unwrap(), b"payload");
    assert_eq!(get(&f, "user.anyone").unwrap(), b"2");
}
