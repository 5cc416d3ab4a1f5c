//! The one place that lists every backend: parse a repository location, build the backend,
//! and stack the standard layers on it.
//!
//! | form | backend |
//! |---|---|
//! | `/path/to/repo`, `local:/path/to/repo` | [`crate::local::LocalStorage`] |
//! | `s3:https://ENDPOINT/BUCKET/PREFIX` | [`crate::s3::S3Storage`], path-style, TLS |
//! | `s3:http://127.0.0.1:PORT/BUCKET/PREFIX` | [`crate::s3::S3Storage`], path-style, plain HTTP (local MinIO, moto) |
//! | `s3:HOST/BUCKET/PREFIX` | same as `s3:https://HOST/BUCKET/PREFIX` (restic's form) |
//! | `s3://BUCKET/PREFIX` | [`crate::s3::S3Storage`] at `LIFEBOAT_S3_ENDPOINT`, or AWS S3 when unset |
//! | `memory:` | [`crate::memory::MemoryStorage`] (tests only; empty at every open) |
//!
//! S3 details:
//! - `PREFIX` is optional and may contain `/`; the repository's objects live under
//!   `PREFIX/` in the bucket.
//! - Region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
//! - Credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else
//!   the `~/.aws/credentials` and `~/.aws/config` files (profile `AWS_PROFILE`).
//! - `LIFEBOAT_S3_VIRTUAL_HOST=1` addresses the bucket as `BUCKET.ENDPOINT` (virtual-host style).
//! - More switches (conditional writes, checksums, EC2 metadata) in
//!   [`crate::s3::S3Config::with_env`].
//!
//! Layers stacked by [`open`], innermost first: the test-only [`Faults`] (only when
//! [`FAULTS_ENV`] is set), [`Retry`] (transient failures, exponential backoff), [`Limit`]
//! (bounded concurrency).

use crate::layers::{FaultPlan, Faults, Limit, Retry};
use crate::local::LocalStorage;
use crate::memory::MemoryStorage;
use crate::s3::{S3Config, S3Storage};
use crate::{ErrorKind, Result, Storage, StorageError};
use std::sync::Arc;
use std::time::Duration;

/// Test-only: when this environment variable is set, [`open`] wraps the backend in
/// [`Faults`] with the plan it spells (see [`FaultPlan::parse`]), for example
/// `LIFEBOAT_TEST_FAULTS="write-after=5,kind=nospace"` (the 6th and every later write fails
/// with "no space") or `LIFEBOAT_TEST_FAULTS="fraction=0.2,seed=7"` (a fifth of all calls fail
/// transiently and are retried). Never set it outside tests.
pub const FAULTS_ENV: &str = "LIFEBOAT_TEST_FAULTS";

/// A parsed repository location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on a local filesystem.
    Local(std::path::PathBuf),
    /// An in-process memory store.
    Memory,
    /// A bucket (and key prefix) of an S3-compatible service.
    S3 {
        /// `https://host[:port]` or `http://host:port`; `None` for the `s3://` form (endpoint
        /// from `LIFEBOAT_S3_ENDPOINT`, else AWS).
        endpoint: Option<String>,
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
        prefix: String,
    },
}

fn invalid(location: &str, message: impl Into<String>) -> StorageError {
    StorageError::new(ErrorKind::InvalidKey, "open", location, "", message)
}

/// Splits `BUCKET/PREFIX...` into its bucket and prefix.
fn bucket_and_prefix(location: &str, path: &str) -> Result<(String, String)> {
    let path = path.trim_matches('/');
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return Err(invalid(
            location,
            "no bucket in the S3 location (s3:https://ENDPOINT/BUCKET/PREFIX or s3://BUCKET/PREFIX)",
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|c| c == "." || c == "..") || prefix.contains("//") {
        return Err(invalid(
            location,
            "the S3 prefix must not contain '.', '..' or empty components",
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

fn parse_s3(location: &str, rest: &str) -> Result<Location> {
    if let Some(path) = rest.strip_prefix("//") {
        let (bucket, prefix) = bucket_and_prefix(location, path)?;
        return Ok(Location::S3 {
            endpoint: None,
            bucket,
            prefix,
        });
    }
    let (scheme, hostpath) = match rest.split_once("://") {
        Some((scheme @ ("http" | "https"), hostpath)) => (scheme, hostpath),
        Some((other, _)) => {
            return Err(invalid(
                location,
                format!("S3 endpoint scheme must be http or https, not '{other}'"),
            ))
        }
        None => ("https", rest),
    };
    let (host, path) = hostpath.split_once('/').unwrap_or((hostpath, ""));
    if host.is_empty() {
        return Err(invalid(location, "no endpoint host in the S3 location"));
    }
    let (bucket, prefix) = bucket_and_prefix(location, path)?;
    Ok(Location::S3 {
        endpoint: Some(format!("{scheme}://{host}")),
        bucket,
        prefix,
    })
}

/// Parses a repository location string (see the module table).
pub fn parse(location: &str) -> Result<Location> {
    if location.is_empty() {
        return Err(invalid(
            location,
            "no repository given: pass -r/--repo or set LIFEBOAT_REPOSITORY",
        ));
    }
    if location == "memory:" {
        return Ok(Location::Memory);
    }
    if let Some(rest) = location.strip_prefix("local:") {
        return Ok(Location::Local(rest.into()));
    }
    if let Some(rest) = location.strip_prefix("s3:") {
        return parse_s3(location, rest);
    }
    if let Some((scheme, _)) = location.split_once(':') {
        if scheme.len() > 1 && !scheme.contains('/') && location.contains("://") {
            return Err(StorageError::new(
                ErrorKind::Unsupported,
                "open",
                location,
                "",
                format!(
                    "unknown repository scheme '{scheme}:' (supported: a local path, local:PATH, \
                     s3:https://ENDPOINT/BUCKET/PREFIX, s3://BUCKET/PREFIX, memory:)"
                ),
            ));
        }
    }
    Ok(Location::Local(location.into()))
}

/// Wraps `raw` in [`Faults`] when [`FAULTS_ENV`] is set.
fn with_test_faults(raw: Storage, location: &str) -> Result<Storage> {
    let Ok(spec) = std::env::var(FAULTS_ENV) else {
        return Ok(raw);
    };
    if spec.trim().is_empty() {
        return Ok(raw);
    }
    let plan = FaultPlan::parse(&spec).map_err(|e| {
        StorageError::new(
            ErrorKind::Other,
            "open",
            location,
            "",
            format!("{FAULTS_ENV}: {e}"),
        )
    })?;
    tracing::warn!("{FAULTS_ENV} is set: injecting storage faults ({plan:?})");
    Ok(Arc::new(Faults::with_plan(raw, plan)))
}

/// Opens a backend for `location` with the standard layers (see the module documentation).
pub fn open(location: &str) -> Result<Storage> {
    // (backend, attempts, first backoff delay, concurrent operations)
    let (raw, attempts, delay, concurrency): (Storage, u32, Duration, usize) =
        match parse(location)? {
            Location::Local(path) => (
                Arc::new(LocalStorage::new(path)),
                3,
                Duration::from_millis(100),
                8,
            ),
            Location::Memory => (
                Arc::new(MemoryStorage::new()),
                3,
                Duration::from_millis(10),
                64,
            ),
            Location::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let config = S3Config::new(endpoint.as_deref(), &bucket, &prefix).with_env();
                (
                    Arc::new(S3Storage::new(config)?),
                    5,
                    Duration::from_millis(200),
                    16,
                )
            }
        };
    let raw = with_test_faults(raw, location)?;
    Ok(Arc::new(Limit::new(
        Retry::new(raw, attempts, delay),
        concurrency,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(endpoint: Option<&str>, bucket: &str, prefix: &str) -> Location {
        Location::S3 {
            endpoint: endpoint.map(String::from),
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse("/srv/repo").unwrap(),
            Location::Local("/srv/repo".into())
        );
        assert_eq!(parse("local:/a").unwrap(), Location::Local("/a".into()));
        assert_eq!(parse("memory:").unwrap(), Location::Memory);
        assert_eq!(
            parse("s3:https://s3.example.com/bkt/some/prefix/").unwrap(),
            s3(Some("https://s3.example.com"), "bkt", "some/prefix")
        );
        assert_eq!(
            parse("s3:http://127.0.0.1:9000/bkt").unwrap(),
            s3(Some("http://127.0.0.1:9000"), "bkt", "")
        );
        assert_eq!(
            parse("s3:s3.example.com/bkt/p").unwrap(),
            s3(Some("https://s3.example.com"), "bkt", "p")
        );
        assert_eq!(parse("s3://bkt/a/b").unwrap(), s3(None, "bkt", "a/b"));
        assert_eq!(parse("s3://bkt").unwrap(), s3(None, "bkt", ""));
    }

    #[test]
    fn rejects_bad_s3_locations() {
        for bad in [
            "s3://",
            "s3:https://host",
            "s3:https://host/",
            "s3:ftp://host/b",
            "s3://b/../x",
            "s3:https:///b",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
        let e = parse("gs://bucket").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.to_string().contains("s3://BUCKET/PREFIX"));
    }

    #[test]
    fn opens_s3_without_network() {
        let s = open("s3:http://127.0.0.1:1/bkt/repo").unwrap();
        assert_eq!(s.location(), "s3:http://127.0.0.1:1/bkt/repo");
    }
}
