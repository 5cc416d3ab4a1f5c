//! Helpers shared by the integration tests: a `moto_server` on a free loopback port.
#![allow(dead_code)]

pub mod emulators;

use lifeboat_storage::s3::S3Config;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `moto_server` child process on a free loopback port; killed on drop.
pub struct Moto {
    child: Child,
    /// The port moto listens on (127.0.0.1).
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto_binary() -> String {
    std::env::var("LIFEBOAT_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_string())
}

pub fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = moto_binary();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            let banner = "!".repeat(78);
            let how =
                "install it with scripts/install-s3-test-deps.sh (pip install 'moto[server]'), \
                       or point LIFEBOAT_MOTO_SERVER at it";
            if std::env::var_os("CI").is_some() {
                panic!("\n{banner}\nCI: moto_server ('{bin}') is required for the S3 conformance tests \
                        and could not be started: {e}\n{how}\n{banner}");
            }
            eprintln!("\n{banner}\nWARNING: moto_server ('{bin}') not found: {e}\nThe S3 backend is NOT tested. {how}\n{banner}");
            panic!("moto_server missing: the S3 conformance tests cannot run ({how})");
        }
    };
    let mut moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((status, _)) = http(port, "GET", "/", &[]) {
            if status < 500 {
                return moto;
            }
        }
        if let Ok(Some(status)) = moto.child.try_wait() {
            panic!("moto_server exited early with {status}");
        }
        if Instant::now() > deadline {
            let _ = moto.child.kill();
            panic!(
                "moto_server did not answer on 127.0.0.1:{} within 60 s",
                moto.port
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tiny HTTP/1.1 client for moto's unauthenticated admin calls (bucket creation).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    http_with_body(port, method, path, headers, "")
}

/// [`http`] with a request body.
pub fn http_with_body(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    conn.write_all(req.as_bytes())?;
    let mut resp = String::new();
    conn.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, resp))
}

pub fn create_bucket(moto: &Moto, bucket: &str, object_lock: bool) {
    let headers: &[(&str, &str)] = if object_lock {
        &[("x-amz-bucket-object-lock-enabled", "true")]
    } else {
        &[]
    };
    let (status, body) = http(moto.port, "PUT", &format!("/{bucket}"), headers).unwrap();
    assert_eq!(status, 200, "creating bucket {bucket}: {body}");
}

pub fn s3_config(moto: &Moto, bucket: &str, prefix: &str) -> S3Config {
    let mut c = S3Config::new(
        Some(&format!("http://127.0.0.1:{}", moto.port)),
        bucket,
        prefix,
    );
    c.access_key_id = Some("testing".into());
    c.secret_access_key = Some("testing".into());
    c.load_aws_config = false;
    c
}
