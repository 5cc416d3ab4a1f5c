//! Hard links: stored once, listed with their link group, restored as links.

mod common;

use common::{write, Env};
use std::os::unix::fs::MetadataExt;

#[test]
fn hard_links_restore_as_one_inode_and_ls_shows_the_group() {
    let env = Env::new();
    let src = env.path("src");
    let data = common::pseudo_random(300_000, 7);
    write(&src.join("a"), &data);
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::hard_link(src.join("a"), src.join("b")).unwrap();
    std::fs::hard_link(src.join("a"), src.join("sub/c")).unwrap();
    write(&src.join("alone"), b"not linked");
    let v = env.json(&["backup", src.to_str().unwrap()]);
    // The group is read once: the other two links reuse its content.
    assert_eq!(v["summary"]["bytes_read"], 300_000 + 10, "{v}");

    let ls = env.cmd().args(["ls", "latest", "--json"]).output().unwrap();
    let entries: Vec<serde_json::Value> = String::from_utf8(ls.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let group = |name: &str| {
        let e = entries
            .iter()
            .find(|e| e["path"].as_str().unwrap().ends_with(name))
            .unwrap();
        (e["link_group"].clone(), e["links"].clone())
    };
    let (ga, la) = group("/a");
    assert!(ga.is_string(), "{entries:?}");
    assert_eq!(la, 3);
    assert_eq!(group("/b").0, ga);
    assert_eq!(group("/sub/c").0, ga);
    assert!(group("/alone").0.is_null());

    let target = env.path("restored");
    let r = env.json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert_eq!(r["summary"]["hardlinks"], 2, "{r}");
    let back = common::restored(&target, &src);
    let ino = |p: &str| std::fs::metadata(back.join(p)).unwrap().ino();
    assert_eq!(ino("a"), ino("b"));
    assert_eq!(ino("a"), ino("sub/c"));
    assert_ne!(ino("a"), ino("alone"));
    assert_eq!(std::fs::metadata(back.join("a")).unwrap().nlink(), 3);
    assert_eq!(std::fs::read(back.join("sub/c")).unwrap(), data);

    // Restoring one link alone gives a whole file.
    let one = env.path("one");
    let include = format!("{}/b", src.display());
    env.json(&[
        "restore",
        "latest",
        "--target",
        one.to_str().unwrap(),
        "--include",
        &include,
    ]);
    let b = common::restored(&one, &src).join("b");
    assert_eq!(std::fs::read(&b).unwrap(), data);
    assert_eq!(std::fs::metadata(&b).unwrap().nlink(), 1);
}
