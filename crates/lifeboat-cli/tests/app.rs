//! `lifeboat app start|stop`: first start, clean stop, crash (exit 5) naming the newest restore
//! point, a killed application, and a state directory that cannot be written.

mod common;
use common::Env;

#[test]
fn app_start_after_stop_is_clean_after_a_kill_is_a_crash_naming_the_latest_restore_point() {
    let env = Env::new();
    let state = env.path("state");
    let state_s = state.to_str().unwrap();
    let data = env.path("registry");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.json"), "{}").unwrap();
    let cfg = env.path("lifeboat.toml");
    std::fs::write(
        &cfg,
        format!(
            "[repositories.main]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n[sources.registry]\nkind = \"files\"\npaths = [\"{}\"]\nrestore_point = true\n",
            env.repo.display(),
            data.display()
        ),
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();
    let start = |extra: &[&str]| {
        let mut c = env.cmd();
        c.args([
            "--config",
            cfg_s,
            "app",
            "start",
            "shop",
            "--state-dir",
            state_s,
            "--json",
        ])
        .args(extra);
        let out = c.output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap(), v)
    };
    let (code, v) = start(&[]);
    assert_eq!(
        (code, v["previous"].as_str()),
        (0, Some("first-start")),
        "{v:#}"
    );
    env.cmd()
        .args(["app", "stop", "shop", "--state-dir", state_s])
        .assert()
        .success();
    let (code, v) = start(&[]);
    assert_eq!((code, v["previous"].as_str()), (0, Some("clean")), "{v:#}");
    assert!(v["since"].is_string());

    // A restore point, then the application dies without `app stop` (a kill).
    env.cmd()
        .args(["--config", cfg_s, "restore-point", "create", "nightly"])
        .assert()
        .success();
    let (code, v) = start(&[]);
    assert_eq!(code, 5, "{v:#}");
    assert_eq!(v["previous"], "crash");
    assert_eq!(v["latest_restore_point"]["name"], "nightly", "{v:#}");

    // The record is written atomically: no temporary files stay behind.
    let names: Vec<String> = std::fs::read_dir(state.join("apps"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["shop.json"]);

    // A state directory that cannot be created is a clear error, not a crash report.
    let out = env
        .cmd()
        .args(["app", "start", "shop", "--state-dir", "/proc/nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("state directory"));
}
