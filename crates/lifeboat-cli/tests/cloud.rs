//! Repositories on Google Cloud Storage (`gs://`) and Azure Blob Storage (`azure://`), end to
//! end through the binary against real emulators (fake-gcs-server, Azurite) it starts itself,
//! configured the way users do: the providers' standard environment variables.

mod common;
#[path = "../../lifeboat-storage/tests/common/mod.rs"]
mod storage_common;

use common::{write, Env};
use storage_common::emulators::{
    azurite_connection_string, azurite_create_container, fake_gcs_create_bucket, start_azurite,
    start_fake_gcs,
};

/// init, backup, a second (unchanged) backup, restore, check --read-data, and object lock
/// refused as S3-only, against `url` with `vars` set.
fn round_trip(env: &Env, url: &str, vars: &[(&str, String)]) {
    let cmd = || {
        let mut c = env.cmd();
        c.env("LIFEBOAT_REPOSITORY", url);
        for (k, v) in vars {
            c.env(k, v);
        }
        c
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let out = cmd().args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "lifeboat {args:?} on {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let src = env.path("src");
    write(&src.join("a.txt"), b"alpha");
    write(&src.join("deep/b.bin"), &common::pseudo_random(3 << 20, 9));
    cmd().arg("init").assert().success();
    let b = json(&["backup", src.to_str().unwrap()]);
    assert_eq!(b["summary"]["files_new"], 2, "{b}");
    let b2 = json(&["backup", src.to_str().unwrap()]);
    assert_eq!(b2["summary"]["files_unchanged"], 2, "{b2}");
    let target = env.path("restored");
    json(&["restore", "latest", "--target", target.to_str().unwrap()]);
    common::assert_same_tree(&src, &common::restored(&target, &src));
    let c = json(&["check", "--read-data"]);
    assert_eq!(c["errors"].as_array().unwrap().len(), 0, "{c}");
    assert_eq!(c["snapshots"], 2, "{c}");

    // Object lock is S3-only: refused before anything is written.
    let locked = format!("{url}-locked");
    let out = cmd()
        .env("LIFEBOAT_REPOSITORY", &locked)
        .args(["init", "--object-lock", "COMPLIANCE:30"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("S3"), "{err}");
}

#[test]
fn a_repository_on_gcs_backs_up_restores_and_checks() {
    let em = start_fake_gcs();
    fake_gcs_create_bucket(&em, "backups");
    let env = Env::uninit();
    round_trip(
        &env,
        "gs://backups/prod/app",
        &[
            ("STORAGE_EMULATOR_HOST", format!("127.0.0.1:{}", em.port)),
            // fake-gcs-server 1.54 ignores ifGenerationMatch=0 on resumable uploads.
            ("LIFEBOAT_GCS_CONDITIONAL_WRITES", "0".into()),
        ],
    );
}

#[test]
fn a_repository_on_azure_backs_up_restores_and_checks() {
    let em = start_azurite();
    azurite_create_container(&em, "backups");
    let env = Env::uninit();
    round_trip(
        &env,
        "azure://backups/prod/app",
        &[(
            "AZURE_STORAGE_CONNECTION_STRING",
            azurite_connection_string(&em),
        )],
    );
}
