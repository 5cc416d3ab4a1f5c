//! `tag` and `rewrite`: snapshots replaced by changed copies; restore points follow the copies;
//! removed data becomes prunable and the repository stays clean.

mod common;

use common::{write, Env};
use serde_json::Value;

fn ids(env: &Env) -> Vec<String> {
    env.json(&["snapshots"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn tags_of(env: &Env, id: &str) -> Vec<String> {
    let all = env.json(&["snapshots"]);
    let s = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {all}"));
    s["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tag_add_remove_set_replace_the_snapshot_and_keep_its_content() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"alpha");
    let first = env.json(&["backup", src.to_str().unwrap(), "--tag", "nightly"])["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = env.json(&["backup", src.to_str().unwrap(), "--tag", "weekly"])["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = env.json(&["tag", &first[..8], "--add", "legal-hold", "--add", "audit"]);
    let new = r["changed"][0]["new"].as_str().unwrap().to_string();
    assert_eq!(r["changed"][0]["old"], first.as_str());
    assert_ne!(new, first);
    assert!(!ids(&env).contains(&first), "the original is replaced");
    assert_eq!(tags_of(&env, &new), ["audit", "legal-hold", "nightly"]);
    let snap = env.json(&["snapshots"]);
    let copy = snap
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == new.as_str())
        .unwrap();
    assert_eq!(copy["original"], first.as_str(), "{copy}");

    let r = env.json(&["tag", &new, "--remove", "audit"]);
    let newer = r["changed"][0]["new"].as_str().unwrap().to_string();
    assert_eq!(tags_of(&env, &newer), ["legal-hold", "nightly"]);
    // The chain keeps the first id as `original`.
    let snap = env.json(&["snapshots"]);
    let copy = snap
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == newer.as_str())
        .unwrap();
    assert_eq!(copy["original"], first.as_str(), "{copy}");

    let r = env.json(&["tag", &newer, "--set", "kept"]);
    let last = r["changed"][0]["new"].as_str().unwrap().to_string();
    assert_eq!(tags_of(&env, &last), ["kept"]);
    // Asking for tags a snapshot already has changes nothing.
    let r = env.json(&["tag", &last, "--add", "kept"]);
    assert_eq!(r["changed"].as_array().unwrap().len(), 0);
    assert_eq!(r["unchanged"][0], last.as_str());

    // Without snapshot ids: those the filter selects.
    let r = env.json(&["tag", "--tag", "weekly", "--add", "offsite"]);
    assert_eq!(r["changed"].as_array().unwrap().len(), 1);
    assert_eq!(r["changed"][0]["old"], other.as_str());

    // No change asked for: a usage error naming the flags.
    env.cmd()
        .args(["tag", &last])
        .assert()
        .failure()
        .stderr(predicates::str::contains("--add"));

    // The content is the same.
    let t = env.path("restored");
    env.json(&["restore", &last, "--target", t.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(common::restored(&t, &src).join("a.txt")).unwrap(),
        b"alpha"
    );
    let c = env.json(&["check", "--read-data"]);
    assert_eq!(c["errors"].as_array().unwrap().len(), 0, "{c}");
    assert_eq!(c["damaged_packs"].as_array().unwrap().len(), 0, "{c}");
}

#[test]
fn rewrite_exclude_forget_original_then_prune_frees_the_data_and_check_stays_clean() {
    let env = Env::new();
    let src = env.path("app");
    write(&src.join("config.toml"), b"x = 1\n");
    // A customer's data, large and incompressible so its packs show in prune's numbers.
    write(
        &src.join("customers/42/profile.json"),
        &common::pseudo_random(3 << 20, 42),
    );
    write(&src.join("customers/42/orders.csv"), b"1,2,3\n");
    write(&src.join("customers/7/profile.json"), b"{\"id\": 7}\n");
    let b1 = env.json(&["backup", src.to_str().unwrap()])["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    write(&src.join("config.toml"), b"x = 2\n");
    let b2 = env.json(&["backup", src.to_str().unwrap()])["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A restore point with the second snapshot as its member.
    let cfg = env.path("lifeboat.toml");
    std::fs::write(
        &cfg,
        format!(
            "[repositories.main]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n[sources.app]\nkind = \"files\"\npaths = [\"{}\"]\nrestore_point = true\n",
            env.repo.display(),
            src.display()
        ),
    )
    .unwrap();
    let point = env.json(&[
        "--config",
        cfg.to_str().unwrap(),
        "restore-point",
        "create",
        "before-erasure",
    ]);
    let member: String = point["members"][0]["snapshots"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{point}"))
        .to_string();
    let pattern = format!("{}/customers/42", src.display());

    // A dry run writes nothing and says what would go.
    let dry = env.json(&["rewrite", "--exclude", &pattern, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(ids(&env).len(), 3);
    let would: Vec<&Value> = dry["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["new"].is_null() && s["removed"]["files"] == 2)
        .collect();
    assert_eq!(would.len(), 3, "{dry}");

    let r = env.json(&["rewrite", "--exclude", &pattern, "--forget-original"]);
    let done = r["snapshots"].as_array().unwrap();
    assert_eq!(done.len(), 3, "{r}");
    for d in done {
        assert_eq!(d["original_removed"], true, "{d}");
        assert_eq!(d["removed"]["files"], 2, "{d}");
        assert_eq!(d["removed"]["dirs"], 1, "{d}");
        assert_eq!(d["removed"]["paths"][0], pattern.as_str(), "{d}");
    }
    let now = ids(&env);
    assert_eq!(now.len(), 3);
    for old in [&b1, &b2, &member] {
        assert!(!now.contains(old), "{old} should be gone");
    }
    // Nothing of the customer is found any more; the rest is.
    env.cmd()
        .args(["find", "profile.json", "--json"])
        .assert()
        .success();
    let found = env.cmd().args(["find", "orders.csv"]).output().unwrap();
    assert_eq!(found.status.code(), Some(1), "no snapshot holds orders.csv");
    let t = env.path("restored");
    env.json(&["restore", "latest", "--target", t.to_str().unwrap()]);
    let back = common::restored(&t, &src);
    assert!(!back.join("customers/42").exists());
    assert_eq!(
        std::fs::read(back.join("customers/7/profile.json")).unwrap(),
        b"{\"id\": 7}\n"
    );
    assert_eq!(std::fs::read(back.join("config.toml")).unwrap(), b"x = 2\n");

    // The restore point names the copy now.
    let shown = env.json(&["restore-point", "show", "before-erasure"]);
    let m = shown["members"][0]["snapshots"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(now.contains(&m.to_string()), "{m} not in {now:?}");
    let rp = env.path("rp");
    env.json(&[
        "--config",
        cfg.to_str().unwrap(),
        "restore-point",
        "restore",
        "before-erasure",
        "--target-root",
        rp.to_str().unwrap(),
    ]);

    // The journal holds the rewrite.
    let j = env.cmd().args(["journal"]).output().unwrap();
    assert!(String::from_utf8_lossy(&j.stdout).contains("rewrite"));

    // The removed data is unreferenced now: prune frees it, and everything left checks.
    let p = env.json(&["prune"]);
    let freed = p["bytes_freed"].as_u64().unwrap_or_else(|| panic!("{p}"));
    assert!(freed >= 3 << 20, "prune freed {freed} bytes: {p}");
    let c = env.json(&["check", "--read-data"]);
    assert_eq!(c["errors"].as_array().unwrap().len(), 0, "{c}");
    assert_eq!(c["damaged_packs"].as_array().unwrap().len(), 0, "{c}");
}

#[test]
fn rewrite_refuses_database_snapshots_and_needs_a_pattern() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["backup", "--stdin", "--stdin-name", "dump.sql"])
        .write_stdin("SELECT 1;\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    env.cmd()
        .args(["rewrite", "latest", "--exclude", "dump.sql"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("file backups only"));
    env.cmd().args(["rewrite", "latest"]).assert().failure();
}
