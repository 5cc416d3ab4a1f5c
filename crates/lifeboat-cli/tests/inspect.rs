//! `lifeboat diff` and `lifeboat find` against the real binary.

mod common;

use common::{write, Env};
use std::os::unix::fs::PermissionsExt;

/// Two snapshots of one tree with every kind of change between them.
fn two_snapshots(env: &Env) -> (String, String, String) {
    let src = env.path("src");
    write(&src.join("keep.txt"), b"unchanged");
    write(&src.join("edit.txt"), b"version one");
    write(&src.join("chmod.txt"), b"same bytes");
    write(&src.join("gone.txt"), b"to be removed");
    write(&src.join("olddir/inner.conf"), b"a=1");
    write(&src.join("becomes_dir"), b"a file first");
    write(&src.join("deep/a/b/c.conf"), b"deep");
    let first = env.backup(&[&src]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&src.join("edit.txt"), b"version two, longer");
    std::fs::set_permissions(
        src.join("chmod.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::remove_file(src.join("gone.txt")).unwrap();
    std::fs::remove_dir_all(src.join("olddir")).unwrap();
    std::fs::remove_file(src.join("becomes_dir")).unwrap();
    write(&src.join("becomes_dir/child.conf"), b"b=2");
    write(&src.join("new/added.txt"), b"brand new");
    let second = env.backup(&[&src]);
    (first, second, src.display().to_string())
}

#[test]
fn diff_reports_added_removed_modified_metadata_and_kind_changes() {
    let env = Env::new();
    let (first, second, src) = two_snapshots(&env);
    let v = env.json(&["diff", &first, &second]);
    let changes: Vec<(String, String)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(&src)
                    .to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(p, _)| !p.is_empty())
        .collect();
    let expect = [
        ("/becomes_dir", "type"),
        ("/becomes_dir/child.conf", "added"),
        ("/chmod.txt", "metadata"),
        ("/edit.txt", "modified"),
        ("/gone.txt", "removed"),
        ("/new", "added"),
        ("/new/added.txt", "added"),
        ("/olddir", "removed"),
        ("/olddir/inner.conf", "removed"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    assert_eq!(changes, expect, "{v:#}");
    let chmod = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"].as_str().unwrap().ends_with("/chmod.txt"))
        .unwrap();
    assert!(
        chmod["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "mode"),
        "{chmod}"
    );
    let s = &v["summary"];
    assert_eq!(s["files_added"], 2, "{s}");
    assert_eq!(s["files_removed"], 2, "{s}");
    assert_eq!(s["files_modified"], 1, "{s}");
    assert_eq!(s["dirs_added"], 1, "{s}");
    assert_eq!(s["dirs_removed"], 1, "{s}");
    assert_eq!(s["type_changed"], 1, "{s}");
    assert_eq!(v["snapshot1"].as_str().unwrap(), first);

    // The same snapshot twice: nothing changed. The text form shows the markers.
    let same = env.json(&["diff", &second, &second]);
    assert_eq!(same["changes"].as_array().unwrap().len(), 0);
    let out = env.cmd().args(["diff", &first, "latest"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("+    {src}/new/added.txt")),
        "{text}"
    );
    assert!(text.contains(&format!("-    {src}/olddir/")), "{text}");
    assert!(text.contains(&format!("M    {src}/edit.txt")), "{text}");
    assert!(text.contains(&format!("T    {src}/becomes_dir/")), "{text}");
    assert!(
        text.contains("files:       2 new, 2 removed, 1 changed"),
        "{text}"
    );
}

#[test]
fn find_names_the_snapshots_that_hold_a_file() {
    let env = Env::new();
    let (first, second, src) = two_snapshots(&env);
    // By name: olddir/inner.conf only in the first, becomes_dir/child.conf only in the second,
    // deep/a/b/c.conf in both.
    let v = env.json(&["find", "*.conf"]);
    let groups = v.as_array().unwrap();
    assert_eq!(groups.len(), 2, "{v:#}");
    let paths = |g: &serde_json::Value| -> Vec<String> {
        g["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(&src)
                    .to_string()
            })
            .collect()
    };
    assert_eq!(groups[0]["snapshot"].as_str().unwrap(), first);
    assert_eq!(
        paths(&groups[0]),
        ["/deep/a/b/c.conf", "/olddir/inner.conf"]
    );
    assert_eq!(groups[1]["snapshot"].as_str().unwrap(), second);
    assert_eq!(
        paths(&groups[1]),
        ["/becomes_dir/child.conf", "/deep/a/b/c.conf"]
    );

    // By path, limited to one snapshot.
    let pattern = format!("{src}/deep/**");
    let v = env.json(&["find", &pattern, "--snapshot", &second]);
    let groups = v.as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        paths(&groups[0]),
        ["/deep/a", "/deep/a/b", "/deep/a/b/c.conf"]
    );

    // Nothing matches: exit 1, as grep; a bad pattern is refused.
    let out = env.cmd().args(["find", "no-such-*.xyz"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no match"));
    let out = env.cmd().args(["find", "a[b"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad pattern 'a[b'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
