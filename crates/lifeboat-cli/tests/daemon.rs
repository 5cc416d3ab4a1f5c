//! The real daemon (`lifeboat daemon`) on a free loopback port: schedules, restarts, catch-up,
//! overlap, retries, authentication by role on every route, stream uploads, metrics, kill -9
//! and SIGTERM mid-job, notifications, reload.

mod daemon_env;

use daemon_env::{parse_metrics, Receiver, Setup};
use std::time::Duration;

/// A command source that prints a line every 0.1 s for about `secs` seconds.
fn slow_source(name: &str, secs: u32) -> String {
    format!(
        "[sources.{name}]\nkind = \"command\"\nstream_name = \"{name}.txt\"\ncommand = [\"sh\", \"-c\", \"for i in $(seq 1 {}); do echo line $i; sleep 0.1; done\"]\nrepository = \"main\"\n\n",
        secs * 10
    )
}

fn jobs(d: &daemon_env::Daemon, token: &str) -> Vec<serde_json::Value> {
    d.get("/api/v1/jobs?limit=200", token)
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn schedules_make_backups_metrics_show_them_and_history_survives_a_clean_restart() {
    let s = Setup::new();
    s.config(
        "[schedules.fast]\njob = \"backup\"\nsource = \"app\"\nevery = \"2s\"\n\n[targets.app]\nrpo = \"1h\"\n",
    );
    let mut d = s.start();
    let t = &s.tokens.read;
    let status = d.wait_for(t, 60, "two scheduled backups", |st| {
        st["sources"][0]["snapshots"].as_u64().unwrap_or(0) >= 2
    });
    assert_eq!(status["last_shutdown"], "none");
    assert_eq!(status["sources"][0]["name"], "app");
    assert_eq!(status["sources"][0]["rpo_state"], "ok");
    assert_eq!(status["repositories"][0]["reachable"], true);
    let runs = jobs(&d, t);
    let scheduled: Vec<_> = runs
        .iter()
        .filter(|j| j["schedule"] == "fast" && j["state"] == "succeeded")
        .collect();
    assert!(scheduled.len() >= 2, "{runs:#?}");
    assert_eq!(scheduled[0]["trigger"], "schedule");
    assert_eq!(scheduled[0]["actor"], "scheduler");

    // Metrics carry the values of the last run.
    let text = d.request("GET", "/metrics", Some(t), None).body;
    let m = parse_metrics(&text);
    assert_eq!(m["lifeboat_up"], 1.0);
    assert_eq!(m["lifeboat_last_shutdown_clean"], 1.0);
    assert_eq!(m["lifeboat_backup_last_size_bytes{source=\"app\"}"], 15.0);
    assert!(m["lifeboat_job_runs_total{job=\"backup\",result=\"succeeded\"}"] >= 2.0);
    assert_eq!(m["lifeboat_backup_failures_total{source=\"app\"}"], 0.0);
    assert_eq!(m["lifeboat_repository_reachable{repository=\"main\"}"], 1.0);
    assert_eq!(m["lifeboat_rpo_target_seconds{source=\"app\"}"], 3600.0);
    assert!(m["lifeboat_rpo_seconds{source=\"app\"}"] < 60.0);
    assert_eq!(m["lifeboat_backup_interval_seconds{source=\"app\"}"], 2.0);
    assert_eq!(m["lifeboat_mode{mode=\"normal\"}"], 1.0);
    let last = m["lifeboat_backup_last_success_timestamp_seconds{source=\"app\"}"];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(now - last < 60.0, "{last} vs {now}");

    let exit = d.signal_and_wait(libc::SIGTERM);
    assert!(exit.success(), "{exit:?}\n{}", d.log_text());
    assert!(s.path().join("state/daemon.clean").exists());
    let before: Vec<i64> = runs.iter().map(|j| j["id"].as_i64().unwrap()).collect();

    let d = s.start();
    let status = d.get("/api/v1/status", t);
    assert_eq!(status["last_shutdown"], "clean", "{status:#}");
    let after: Vec<i64> = jobs(&d, t)
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    for id in &before {
        assert!(after.contains(id), "job {id} lost across the restart");
    }
    // A restart does not reset the last-success gauge: it comes from the repository.
    let m = parse_metrics(&d.request("GET", "/metrics", Some(t), None).body);
    assert!(m["lifeboat_backup_last_success_timestamp_seconds{source=\"app\"}"] >= last - 1.0);
}

#[test]
fn every_route_answers_401_without_a_known_token_403_for_a_weaker_role_and_works_for_its_role() {
    let s = Setup::new();
    s.config("[drills.app-drill]\nsource = \"app\"\n");
    let d = s.start();
    let tk = &s.tokens;
    // One snapshot to name.
    let a = d.request(
        "POST",
        "/api/v1/backups",
        Some(&tk.operator),
        Some(r#"{"source":"app"}"#),
    );
    assert_eq!(a.status, 202, "{}", a.body);
    let job = a.json()["job"].as_i64().unwrap();
    assert_eq!(d.wait_job(&tk.read, job, 60)["state"], "succeeded");
    let snap = d.get("/api/v1/snapshots?source=app", &tk.read)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let target = s.path().join("restores/r1");
    let restore = format!(r#"{{"snapshot":"{snap}","target":"{}"}}"#, target.display());
    // (method, path, body, role needed, status with that role)
    let routes: Vec<(&str, String, Option<String>, &str, u16)> = vec![
        ("GET", "/metrics".into(), None, "read", 200),
        ("GET", "/api/v1/status".into(), None, "read", 200),
        ("GET", "/api/v1/snapshots".into(), None, "read", 200),
        (
            "GET",
            format!("/api/v1/snapshots/{snap}"),
            None,
            "read",
            200,
        ),
        (
            "POST",
            "/api/v1/backups".into(),
            Some(r#"{"source":"app"}"#.into()),
            "operator",
            202,
        ),
        ("GET", "/api/v1/jobs?limit=5".into(), None, "read", 200),
        ("GET", format!("/api/v1/jobs/{job}"), None, "read", 200),
        (
            "DELETE",
            format!("/api/v1/jobs/{job}"),
            None,
            "operator",
            409,
        ),
        (
            "POST",
            "/api/v1/restores".into(),
            Some(restore.clone()),
            "admin",
            202,
        ),
        (
            "POST",
            "/api/v1/drills".into(),
            Some(r#"{"drill":"app-drill"}"#.into()),
            "operator",
            202,
        ),
        ("GET", "/api/v1/drills".into(), None, "read", 200),
        ("GET", "/api/v1/mode".into(), None, "read", 200),
        (
            "PUT",
            "/api/v1/mode".into(),
            Some(r#"{"mode":"normal"}"#.into()),
            "admin",
            200,
        ),
        ("GET", "/api/v1/journal?limit=5".into(), None, "read", 200),
        ("POST", "/api/v1/reload".into(), None, "admin", 200),
        (
            "POST",
            "/api/v1/restore-points".into(),
            Some(r#"{"name":"before-deploy","sources":["app"]}"#.into()),
            "operator",
            202,
        ),
        ("GET", "/api/v1/restore-points".into(), None, "read", 200),
        ("GET", "/api/v1/apps".into(), None, "read", 200),
    ];
    let rank = |r: &str| {
        ["read", "operator", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };
    let tokens = [
        ("read", &tk.read),
        ("operator", &tk.operator),
        ("admin", &tk.admin),
    ];
    for (method, path, body, needs, ok) in &routes {
        let body = body.as_deref();
        let none = d.request(method, path, None, body);
        assert_eq!(
            none.status, 401,
            "{method} {path} without a token: {}",
            none.body
        );
        assert!(none.json()["error"].is_string());
        let bad = d.request(method, path, Some("lb_not-a-token"), body);
        assert_eq!(bad.status, 401, "{method} {path} with an unknown token");
        for (role, token) in tokens {
            if rank(role) < rank(needs) {
                let a = d.request(method, path, Some(token), body);
                assert_eq!(a.status, 403, "{method} {path} as {role}: {}", a.body);
                assert!(a.json()["hint"].as_str().unwrap().contains(needs));
            }
        }
        let token = tokens[rank(needs)].1;
        let a = d.request(method, path, Some(token), body);
        assert_eq!(a.status, *ok, "{method} {path} as {needs}: {}", a.body);
        if a.status == 202 {
            let id = a.json()["job"].as_i64().unwrap();
            let j = d.wait_job(token, id, 120);
            assert_eq!(j["state"], "succeeded", "{method} {path}: {j:#}");
        }
    }
    assert_eq!(
        std::fs::read_to_string(
            target.join(s.path().join("data/a.txt").strip_prefix("/").unwrap())
        )
        .unwrap(),
        "hello lifeboat\n"
    );
    // A restore outside the roots is refused before anything runs.
    let outside = d.request(
        "POST",
        "/api/v1/restores",
        Some(&tk.admin),
        Some(&format!(
            r#"{{"snapshot":"{snap}","target":"/tmp/elsewhere"}}"#
        )),
    );
    assert_eq!(outside.status, 422, "{}", outside.body);
    // Refusals of routes that change something are journaled with the token's name.
    let journal = d.get("/api/v1/journal?limit=500", &tk.read);
    let denied: Vec<_> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["operation"] == "api-denied")
        .collect();
    assert!(
        denied.iter().any(|r| r["arguments"]["token"] == "viewer"),
        "{denied:#?}"
    );
    // The API's own jobs are journaled with the token as the actor.
    assert!(journal
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["operation"] == "backup"
            && r["user"] == "ci"
            && r["arguments"]["via"] == "api"));
}

#[test]
fn a_stream_uploaded_through_the_api_dumps_back_the_same_bytes() {
    let s = Setup::new();
    s.config("");
    let d = s.start();
    let mut bytes = Vec::new();
    for i in 0..200_000u32 {
        bytes.extend_from_slice(
            format!(
                "{{\"event\":{i},\"hash\":\"{:08x}\"}}\n",
                i.wrapping_mul(2654435761)
            )
            .as_bytes(),
        );
    }
    let a = d.upload(
        "/api/v1/backups?stream=events.jsonl&type=application/x-ndjson&tag=upload",
        &s.tokens.operator,
        &bytes,
    );
    assert_eq!(a.status, 202, "{}", a.body);
    let v = a.json();
    let id = v["snapshot_id"].as_str().unwrap().to_string();
    use sha2::Digest;
    assert_eq!(
        v["stream"]["sha256"],
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    assert_eq!(v["stream"]["size"], bytes.len() as u64);
    let job = d.get(&format!("/api/v1/jobs/{}", v["job"]), &s.tokens.read);
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["job"], "upload");
    let out = s.cli().arg("dump").arg(&id).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == bytes, "dump differs from the upload");
    let snap = d.get(&format!("/api/v1/snapshots/{id}"), &s.tokens.read);
    assert_eq!(snap["tags"][0], "upload");
    assert_eq!(snap["extra"]["content_type"], "application/x-ndjson");
    // A JSON body over max_body is refused; a stream is not limited by it.
    let big = format!("{{\"source\":\"{}\"}}", "x".repeat(2 << 20));
    let a = d.request(
        "POST",
        "/api/v1/backups",
        Some(&s.tokens.operator),
        Some(&big),
    );
    assert_eq!(a.status, 413, "{}", a.body);
}

#[test]
fn kill_9_mid_backup_is_a_crash_the_restart_reports_notifies_and_recovers_from() {
    let s = Setup::new();
    let hook = Receiver::start();
    s.config(&format!(
        "{}[notifications.hook]\nkind = \"webhook\"\nurl = \"{}\"\nevents = [\"crash_detected\", \"backup_failed\"]\n",
        slow_source("slow", 30),
        hook.url
    ));
    let mut d = s.start();
    let a = d.request(
        "POST",
        "/api/v1/backups",
        Some(&s.tokens.operator),
        Some(r#"{"source":"slow"}"#),
    );
    assert_eq!(a.status, 202, "{}", a.body);
    let job = a.json()["job"].as_i64().unwrap();
    d.wait_for(&s.tokens.read, 30, "the backup to run", |st| {
        st["running"].as_array().is_some_and(|r| !r.is_empty())
    });
    std::thread::sleep(Duration::from_millis(1500));
    d.kill9();

    let d = s.start();
    let status = d.get("/api/v1/status", &s.tokens.read);
    assert_eq!(status["last_shutdown"], "crash", "{status:#}");
    assert!(status["last_shutdown_at"].is_string());
    let j = d.get(&format!("/api/v1/jobs/{job}"), &s.tokens.read);
    assert_eq!(j["state"], "interrupted", "{j:#}");
    assert!(j["error"].as_str().unwrap().contains("crash"));
    let crash = hook.wait_event("crash_detected", 30);
    assert!(crash["message"].as_str().unwrap().contains("died"));
    let m = parse_metrics(
        &d.request("GET", "/metrics", Some(&s.tokens.read), None)
            .body,
    );
    assert_eq!(m["lifeboat_last_shutdown_clean"], 0.0);
    let journal = d.get("/api/v1/journal?limit=50", &s.tokens.read);
    assert!(journal
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["operation"] == "daemon-crash"));
    // The repository is whole: the half-done backup left nothing behind that check minds.
    let out = s.cli().args(["check", "--read-data"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And the source backs up again.
    let a = d.request(
        "POST",
        "/api/v1/backups",
        Some(&s.tokens.operator),
        Some(r#"{"source":"app"}"#),
    );
    let id = a.json()["job"].as_i64().unwrap();
    assert_eq!(d.wait_job(&s.tokens.read, id, 60)["state"], "succeeded");
}

#[test]
fn sigterm_mid_job_stops_it_and_shuts_down_clean() {
    let s = Setup::new();
    s.config(&slow_source("slow", 60));
    let mut d = s.start();
    let a = d.request(
        "POST",
        "/api/v1/backups",
        Some(&s.tokens.operator),
        Some(r#"{"source":"slow"}"#),
    );
    let job = a.json()["job"].as_i64().unwrap();
    d.wait_for(&s.tokens.read, 30, "the backup to run", |st| {
        st["running"].as_array().is_some_and(|r| !r.is_empty())
    });
    let started = std::time::Instant::now();
    let exit = d.signal_and_wait(libc::SIGTERM);
    assert!(exit.success(), "{exit:?}\n{}", d.log_text());
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(s.path().join("state/daemon.clean").exists());
    let d = s.start();
    assert_eq!(
        d.get("/api/v1/status", &s.tokens.read)["last_shutdown"],
        "clean"
    );
    let j = d.get(&format!("/api/v1/jobs/{job}"), &s.tokens.read);
    assert!(
        j["state"] == "cancelled" || j["state"] == "interrupted",
        "{j:#}"
    );
    // Nothing half-written was recorded as a snapshot.
    let snaps = d.get("/api/v1/snapshots", &s.tokens.read);
    assert!(snaps
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["stream"]["name"] != "slow.txt"));
}

#[test]
fn an_invalid_reload_keeps_the_old_configuration_and_a_valid_one_takes_effect() {
    let s = Setup::new();
    let path = s.config("");
    let d = s.start();
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{good}\n[sources.broken]\nkind = \"files\"\nnonsense = 1\n"),
    )
    .unwrap();
    unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(500));
    let a = d.request("POST", "/api/v1/reload", Some(&s.tokens.admin), None);
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.json()["error"].as_str().unwrap().contains("nonsense"),
        "{}",
        a.body
    );
    // Still running with the old configuration: tokens and sources as before.
    let st = d.get("/api/v1/status", &s.tokens.read);
    assert_eq!(st["sources"].as_array().unwrap().len(), 1);
    std::fs::write(&path, format!("{good}\n{}", slow_source("more", 1))).unwrap();
    let a = d.request("POST", "/api/v1/reload", Some(&s.tokens.admin), None);
    assert_eq!(a.status, 200, "{}", a.body);
    d.wait_for(&s.tokens.read, 30, "the new source", |st| {
        st["sources"].as_array().is_some_and(|v| v.len() == 2)
    });
    assert!(d.log_text().contains("reload rejected"));
}

#[test]
fn a_missed_run_catches_up_at_start_overlapping_runs_are_skipped_and_failures_retry() {
    let s = Setup::new();
    let flag = s.path().join("failed-once");
    let flaky = format!(
        "[sources.flaky]\nkind = \"command\"\nstream_name = \"flaky.txt\"\ncommand = [\"sh\", \"-c\", \"if [ -f {0} ]; then echo ok; else touch {0}; exit 3; fi\"]\nrepository = \"main\"\n\n",
        flag.display()
    );
    let config = |every: &str| {
        format!(
            "{}{flaky}[schedules.often]\njob = \"backup\"\nsource = \"slow\"\nevery = \"1s\"\n\n[schedules.daily]\njob = \"backup\"\nsource = \"app\"\nevery = \"{every}\"\ncatch_up = true\n\n[schedules.flaky]\njob = \"backup\"\nsource = \"flaky\"\nevery = \"1h\"\ncatch_up = true\nretry = {{ attempts = 3, backoff = \"1s\", max_backoff = \"2s\" }}\n",
            slow_source("slow", 3)
        )
    };
    s.config(&config("2s"));
    let mut d = s.start();
    let t = &s.tokens.read;
    // Overlap: a 1 s schedule on a 3 s backup records skipped runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let runs = jobs(&d, t);
        let skipped = runs
            .iter()
            .find(|j| j["schedule"] == "often" && j["state"] == "skipped");
        let daily = runs
            .iter()
            .any(|j| j["schedule"] == "daily" && j["state"] == "succeeded");
        if let (Some(sk), true) = (skipped, daily) {
            assert!(
                sk["error"].as_str().unwrap().contains("already running"),
                "{sk:#}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{runs:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let runs = jobs(&d, t);
    let running_often = runs
        .iter()
        .filter(|j| j["schedule"] == "often" && j["state"] == "running")
        .count();
    assert!(running_often <= 1, "{runs:#?}");
    let m = parse_metrics(&d.request("GET", "/metrics", Some(t), None).body);
    assert!(m["lifeboat_job_runs_total{job=\"backup\",result=\"skipped\"}"] >= 1.0);
    assert!(d.signal_and_wait(libc::SIGTERM).success());

    // Down for longer than the daily schedule's interval (an hour here): its run was missed.
    s.config(&config("1h"));
    {
        let st = daemon_state(&s);
        st.execute(
            "UPDATE runs SET queued_at = '2000-01-01T00:00:00Z' WHERE schedule = 'daily'",
            [],
        )
        .unwrap();
        // The flaky source's hourly schedule last ran long ago too.
        st.execute(
            "INSERT INTO runs (job, target, schedule, trigger, actor, state, attempt, queued_at) VALUES ('backup', 'flaky', 'flaky', 'schedule', 'scheduler', 'succeeded', 1, '2000-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    }
    let d = s.start();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let runs = jobs(&d, t);
        let caught = runs.iter().any(|j| {
            j["schedule"] == "daily" && j["trigger"] == "catch_up" && j["state"] == "succeeded"
        });
        let retried = runs.iter().find(|j| {
            j["schedule"] == "flaky" && j["trigger"] == "catch_up" && j["state"] == "succeeded"
        });
        if caught {
            if let Some(r) = retried {
                assert_eq!(r["attempt"], 2, "{r:#}");
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{runs:#?}\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = parse_metrics(&d.request("GET", "/metrics", Some(t), None).body);
    assert!(m["lifeboat_backup_failures_total{source=\"flaky\"}"] >= 1.0);
}

fn daemon_state(s: &Setup) -> rusqlite::Connection {
    rusqlite::Connection::open(s.path().join("state/daemon.sqlite")).unwrap()
}

#[test]
fn a_non_loopback_listen_needs_tls_and_a_bad_config_does_not_start() {
    let s = Setup::new();
    let path = s.config("");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("127.0.0.1:{}", s.port),
        &format!("0.0.0.0:{}", s.port),
    );
    std::fs::write(&path, text).unwrap();
    let out = s
        .cli()
        .args(["daemon", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "EXIT_CONFIG");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tls_cert"), "{err}");
}

#[test]
fn scheduled_forget_prune_check_and_copy_run_and_a_timeout_fails_the_run() {
    let s = Setup::new();
    let replica = s.path().join("replica");
    let out = s.cli_on(&replica).arg("init").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let retry = "retry = { attempts = 10, backoff = \"1s\", max_backoff = \"1s\" }";
    s.config(&format!(
        "{slow}[repositories.replica]\nurl = \"{}\"\npassword_file = \"{}\"\n\n[retention.keep2]\nkeep_last = 2\nrepository = \"main\"\n\n\
         [schedules.b]\njob = \"backup\"\nsource = \"app\"\nevery = \"1s\"\n{retry}\n\n\
         [schedules.trim]\njob = \"forget\"\npolicy = \"keep2\"\nevery = \"2s\"\n{retry}\n\n\
         [schedules.compact]\njob = \"prune\"\nrepository = \"main\"\nevery = \"3s\"\n{retry}\n\n\
         [schedules.verify]\njob = \"check\"\nrepository = \"main\"\nread_data = true\nevery = \"2s\"\n{retry}\n\n\
         [schedules.offsite]\njob = \"copy\"\nrepository = \"main\"\ndestination = \"replica\"\nevery = \"2s\"\n{retry}\n\n\
         [schedules.stuck]\njob = \"backup\"\nsource = \"slow\"\nevery = \"2s\"\ntimeout = \"1s\"\n",
        replica.display(),
        s.path().join("pass").display(),
        slow = slow_source("slow", 30),
    ));
    let d = s.start();
    let t = &s.tokens.read;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let runs = jobs(&d, t);
        let ok = |job: &str| {
            runs.iter()
                .any(|j| j["job"] == job && j["state"] == "succeeded")
        };
        let timed_out = runs.iter().any(|j| {
            j["schedule"] == "stuck"
                && j["state"] == "failed"
                && j["error"].as_str().is_some_and(|e| e.contains("timed out"))
        });
        if timed_out && ["forget", "prune", "check", "copy"].iter().all(|j| ok(j)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{runs:#?}\n{}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let replica_snaps = s
        .cli_on(&replica)
        .args(["snapshots", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&replica_snaps.stdout).unwrap();
    assert!(
        !v.as_array().unwrap().is_empty(),
        "copy put nothing in the replica"
    );
    let runs = jobs(&d, t);
    let check = runs
        .iter()
        .find(|j| j["job"] == "check" && j["state"] == "succeeded")
        .unwrap();
    assert!(check["report"]["errors"].as_array().unwrap().is_empty());
}
