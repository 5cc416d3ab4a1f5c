//! `choose::open` as the binary uses it: S3 locations with credentials and switches from the
//! environment, and the test-only `LIFEBOAT_TEST_FAULTS`. Its own test binary (one process,
//! one test) because it sets environment variables.

use lifeboat_storage::choose::{open, FAULTS_ENV};
use lifeboat_storage::s3::S3Config;
use lifeboat_storage::{ErrorKind, WriteOptions};

mod common;
use common::{create_bucket, start_moto};

#[test]
fn open_from_environment() {
    // Safe: the only test of this process.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "eu-central-1");
    std::env::remove_var(FAULTS_ENV);

    let moto = start_moto();
    create_bucket(&moto, "opened", false);
    let location = format!("s3:http://127.0.0.1:{}/opened/some/repo", moto.port);
    let store = open(&location).unwrap();
    assert_eq!(store.location(), location);
    store
        .write("config", b"c", &WriteOptions::create_new())
        .unwrap();
    assert_eq!(
        store
            .write("config", b"d", &WriteOptions::create_new())
            .unwrap_err()
            .kind,
        ErrorKind::AlreadyExists
    );
    store
        .write("data/00/0001", b"pack", &WriteOptions::default())
        .unwrap();
    assert_eq!(store.list("data/").unwrap().len(), 1);
    assert_eq!(store.read_range("data/00/0001", 1, 2).unwrap(), b"ac");

    // s3://BUCKET/PREFIX takes its endpoint from LIFEBOAT_S3_ENDPOINT.
    std::env::set_var(
        "LIFEBOAT_S3_ENDPOINT",
        format!("http://127.0.0.1:{}", moto.port),
    );
    let same = open("s3://opened/some/repo").unwrap();
    assert_eq!(same.read("config").unwrap(), b"c");
    // The location in messages names the endpoint actually used.
    assert_eq!(same.location(), location);

    // Faults from the environment: the 3rd and later writes fail with NoSpace (not retried).
    std::env::set_var(FAULTS_ENV, "write-after=2,kind=nospace");
    let faulty = open("s3://opened/faulty").unwrap();
    faulty.write("a", b"1", &WriteOptions::default()).unwrap();
    faulty.write("b", b"2", &WriteOptions::default()).unwrap();
    let e = faulty
        .write("c", b"3", &WriteOptions::default())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSpace, "{e}");
    assert!(e.to_string().contains("injected fault"), "{e}");
    assert_eq!(faulty.read("a").unwrap(), b"1", "reads are unaffected");

    // Transient faults from the environment are retried by the standard layers.
    std::env::set_var(FAULTS_ENV, "write-after=0,failures=2");
    let flaky = open("s3://opened/flaky").unwrap();
    flaky.write("a", b"1", &WriteOptions::default()).unwrap();

    // The S3 switches of S3Config::with_env.
    std::env::remove_var(FAULTS_ENV);
    std::env::set_var("LIFEBOAT_S3_VIRTUAL_HOST", "1");
    std::env::set_var("LIFEBOAT_S3_CONDITIONAL_WRITES", "0");
    std::env::set_var("LIFEBOAT_S3_CHECKSUM", "crc32c");
    std::env::set_var("AWS_SESSION_TOKEN", "tok");
    let c = S3Config::new(None, "b", "p").with_env();
    assert!(c.virtual_host_style && !c.conditional_writes && !c.ec2_metadata);
    assert_eq!(c.checksum.as_deref(), Some("crc32c"));
    assert_eq!(c.region, "eu-central-1");
    assert_eq!(c.access_key_id.as_deref(), Some("testing"));
    assert_eq!(c.session_token.as_deref(), Some("tok"));
    assert_eq!(
        c.endpoint.as_deref(),
        Some(format!("http://127.0.0.1:{}", moto.port).as_str())
    );
    std::env::remove_var("LIFEBOAT_S3_VIRTUAL_HOST");
    std::env::remove_var("AWS_SESSION_TOKEN");
    // Without conditional writes the backend says create_new is not atomic.
    let store = open("s3://opened/nocond").unwrap();
    assert!(!store.capabilities().atomic_create);
    std::env::remove_var("LIFEBOAT_S3_CONDITIONAL_WRITES");
    // CRC32C on single PUTs works too.
    store.write("k", b"v", &WriteOptions::default()).unwrap();
    assert_eq!(store.read("k").unwrap(), b"v");
    std::env::set_var("LIFEBOAT_S3_CHECKSUM", "sha3");
    let e = open("s3://opened/x").unwrap_err();
    assert!(e.to_string().contains("LIFEBOAT_S3_CHECKSUM"), "{e}");
    std::env::remove_var("LIFEBOAT_S3_CHECKSUM");

    // A bad spec is an error at open.
    std::env::set_var(FAULTS_ENV, "write-after=lots");
    let e = open("s3://opened/x").unwrap_err();
    assert!(e.to_string().contains(FAULTS_ENV), "{e}");
    std::env::remove_var(FAULTS_ENV);
}
