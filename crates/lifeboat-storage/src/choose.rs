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
//! | `gs://BUCKET/PREFIX` | [`crate::cloud::CloudStorage`] on Google Cloud Storage ([`crate::cloud::GcsConfig`]) |
//! | `azure://CONTAINER/PREFIX` | [`crate::cloud::CloudStorage`] on Azure Blob Storage ([`crate::cloud::AzureConfig`]) |
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
//! - Settings given explicitly (a configuration file) go to [`open_with`] as [`S3Overrides`]:
//!   they take precedence over the environment.
//!
//! Layers stacked by [`open`] and [`open_with`], innermost first: the test-only [`Faults`]
//! (only when [`FAULTS_ENV`] is set), [`Retry`] (transient failures, exponential backoff),
//! [`Limit`] (bounded concurrency).

use crate::layers::{FaultPlan, Faults, Limit, Retry};
use crate::local::LocalStorage;
use crate::memory::MemoryStorage;
use crate::s3::{S3Config, S3Storage};
use crate::{ErrorKind, Result, Storage, StorageError};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Test-only: when this environment variable is set, [`open`] wraps the backend in
/// [`Faults`] with the plan it spells (see [`FaultPlan::parse`]), for example
/// `LIFEBOAT_TEST_FAULTS="write-after=5,kind=nospace"` (the 6th and every later write fails
/// with "no space") or `LIFEBOAT_TEST_FAULTS="fraction=0.2,seed=7"` (a fifth of all calls fail
/// transiently and are retried). Never set it outside tests.
pub const FAULTS_ENV: &str = "LIFEBOAT_TEST_FAULTS";

/// S3 settings given explicitly, for example by a configuration file, for [`open_with`].
///
/// Each field that is `Some` replaces what [`S3Config::with_env`] found in the environment (or
/// its default); `None` leaves that in place. Empty strings count as unset, as they do for the
/// environment variables. Two rules keep the settings consistent:
/// - [`Self::endpoint`] is used for `s3://BUCKET/PREFIX` locations, instead of
///   `LIFEBOAT_S3_ENDPOINT`; a location that names its endpoint (`s3:https://ENDPOINT/...`)
///   keeps it.
/// - Giving [`Self::access_key_id`] or [`Self::secret_access_key`] also replaces the session
///   token (with [`Self::session_token`], or none): a session token from `AWS_SESSION_TOKEN`
///   belongs to the environment's keys.
#[derive(Default, Clone)]
pub struct S3Overrides {
    /// Endpoint URL (`https://s3.example.com`, `http://127.0.0.1:9000`) for `s3://` locations.
    pub endpoint: Option<String>,
    /// Signing region (instead of `AWS_REGION`/`AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// Access key id (instead of `AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret access key (instead of `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials (instead of `AWS_SESSION_TOKEN`).
    pub session_token: Option<String>,
    /// Virtual-host style addressing (instead of `LIFEBOAT_S3_VIRTUAL_HOST`).
    pub virtual_host_style: Option<bool>,
}

impl fmt::Debug for S3Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Overrides")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("virtual_host_style", &self.virtual_host_style)
            .finish()
    }
}

/// An explicit setting; empty strings count as unset.
fn given(value: &Option<String>) -> Option<String> {
    value.as_ref().filter(|v| !v.is_empty()).cloned()
}

impl S3Overrides {
    /// `config` with these overrides applied, all but the endpoint (which [`s3_config`] chooses
    /// before the environment is read). See the type documentation for the rules.
    fn apply(&self, mut config: S3Config) -> S3Config {
        if let Some(region) = given(&self.region) {
            config.region = region;
        }
        let (id, secret) = (given(&self.access_key_id), given(&self.secret_access_key));
        if id.is_some() || secret.is_some() {
            config.session_token = given(&self.session_token);
        } else if let Some(token) = given(&self.session_token) {
            config.session_token = Some(token);
        }
        if let Some(id) = id {
            config.access_key_id = Some(id);
        }
        if let Some(secret) = secret {
            config.secret_access_key = Some(secret);
        }
        if let Some(v) = self.virtual_host_style {
            config.virtual_host_style = v;
        }
        config
    }
}

/// The configuration of an S3 location: the location's parts, then the environment
/// ([`S3Config::with_env`]), then the explicit `overrides`. The endpoint is the location's,
/// else the override's, else `LIFEBOAT_S3_ENDPOINT`'s (read by `with_env`).
fn s3_config(
    endpoint: Option<&str>,
    bucket: &str,
    prefix: &str,
    overrides: &S3Overrides,
) -> S3Config {
    let endpoint = endpoint
        .map(str::to_string)
        .or_else(|| given(&overrides.endpoint));
    overrides.apply(S3Config::new(endpoint.as_deref(), bucket, prefix).with_env())
}

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
    /// `gs://BUCKET/PREFIX`: a Google Cloud Storage bucket (and key prefix).
    Gcs {
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket (may be empty).
        prefix: String,
    },
    /// `azure://CONTAINER/PREFIX`: an Azure Blob Storage container (and key prefix).
    Azure {
        /// Container name.
        container: String,
        /// Key prefix inside the container (may be empty).
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
            "no bucket or container in the location (s3:https://ENDPOINT/BUCKET/PREFIX, \
             s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, azure://CONTAINER/PREFIX)",
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|c| c == "." || c == "..") || prefix.contains("//") {
        return Err(invalid(
            location,
            "the prefix must not contain '.', '..' or empty components",
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
        return Err(invalid(location, "no repository location given"));
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
    if let Some(rest) = location.strip_prefix("gs://") {
        let (bucket, prefix) = bucket_and_prefix(location, rest)?;
        return Ok(Location::Gcs { bucket, prefix });
    }
    if let Some(rest) = location.strip_prefix("azure://") {
        let (container, prefix) = bucket_and_prefix(location, rest)?;
        return Ok(Location::Azure { container, prefix });
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
                     s3:https://ENDPOINT/BUCKET/PREFIX, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, \
                     azure://CONTAINER/PREFIX, memory:)"
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
/// S3 settings come from the location and the environment only; see [`open_with`].
pub fn open(location: &str) -> Result<Storage> {
    open_with(location, &S3Overrides::default())
}

/// Like [`open`], with explicit S3 settings that take precedence over the environment (see
/// [`S3Overrides`]). For locations other than S3 the overrides are ignored.
pub fn open_with(location: &str, s3: &S3Overrides) -> Result<Storage> {
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
                let config = s3_config(endpoint.as_deref(), &bucket, &prefix, s3);
                (
                    Arc::new(S3Storage::new(config)?),
                    5,
                    Duration::from_millis(200),
                    16,
                )
            }
            Location::Gcs { bucket, prefix } => (
                Arc::new(crate::cloud::open_gcs(&crate::cloud::GcsConfig::from_env(
                    &bucket, &prefix,
                ))?),
                5,
                Duration::from_millis(200),
                16,
            ),
            Location::Azure { container, prefix } => (
                Arc::new(crate::cloud::open_azure(
                    &crate::cloud::AzureConfig::from_env(&container, &prefix),
                )?),
                5,
                Duration::from_millis(200),
                16,
            ),
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
        assert_eq!(
            parse("gs://bkt/team/repo").unwrap(),
            Location::Gcs {
                bucket: "bkt".into(),
                prefix: "team/repo".into()
            }
        );
        assert_eq!(
            parse("azure://backups").unwrap(),
            Location::Azure {
                container: "backups".into(),
                prefix: "".into()
            }
        );
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
        let e = parse("ftp://host/bucket").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.to_string().contains("s3://BUCKET/PREFIX"));
        assert!(e.to_string().contains("gs://BUCKET/PREFIX"));
        for bad in ["gs://", "azure://", "gs://b/../x", "azure://c/./x"] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn opens_s3_without_network() {
        let s = open("s3:http://127.0.0.1:1/bkt/repo").unwrap();
        assert_eq!(s.location(), "s3:http://127.0.0.1:1/bkt/repo");
    }

    fn all_overrides() -> S3Overrides {
        S3Overrides {
            endpoint: Some("http://127.0.0.1:9000/".into()),
            region: Some("eu-west-3".into()),
            access_key_id: Some("file-key".into()),
            secret_access_key: Some("file-secret".into()),
            session_token: Some("file-token".into()),
            virtual_host_style: Some(true),
        }
    }

    #[test]
    fn overrides_replace_what_they_name() {
        let c = all_overrides().apply(S3Config::new(None, "bkt", "p"));
        assert_eq!(c.region, "eu-west-3");
        assert_eq!(c.access_key_id.as_deref(), Some("file-key"));
        assert_eq!(c.secret_access_key.as_deref(), Some("file-secret"));
        assert_eq!(c.session_token.as_deref(), Some("file-token"));
        assert!(c.virtual_host_style);
        // Untouched: what the overrides do not name.
        assert!(c.conditional_writes && c.load_aws_config && !c.ec2_metadata);
        assert_eq!(c.checksum.as_deref(), Some("md5"));

        // The same through the helper `open_with` uses (the environment comes first, so only
        // the overridden fields are certain here), which also picks the endpoint.
        let c = s3_config(None, "bkt", "p", &all_overrides());
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.location(), "s3:http://127.0.0.1:9000/bkt/p");
        assert_eq!(c.region, "eu-west-3");
        assert_eq!(c.access_key_id.as_deref(), Some("file-key"));
        assert_eq!(c.secret_access_key.as_deref(), Some("file-secret"));
        assert_eq!(c.session_token.as_deref(), Some("file-token"));
        assert!(c.virtual_host_style);
        // A location that names its endpoint keeps it.
        let c = s3_config(Some("https://s3.example.com"), "bkt", "p", &all_overrides());
        assert_eq!(c.endpoint.as_deref(), Some("https://s3.example.com"));
        assert_eq!(c.region, "eu-west-3");
    }

    #[test]
    fn overrides_keep_what_they_do_not_name() {
        let mut base = S3Config::new(Some("https://s3.example.com"), "bkt", "p");
        base.region = "env-region".into();
        base.access_key_id = Some("env-key".into());
        base.secret_access_key = Some("env-secret".into());
        base.session_token = Some("env-token".into());
        base.virtual_host_style = true;

        let c = S3Overrides::default().apply(base.clone());
        assert_eq!(format!("{c:?}"), format!("{base:?}"));
        assert_eq!(c.secret_access_key.as_deref(), Some("env-secret"));
        assert_eq!(c.session_token.as_deref(), Some("env-token"));

        // Empty strings are unset.
        let c = S3Overrides {
            region: Some(String::new()),
            virtual_host_style: Some(false),
            ..Default::default()
        }
        .apply(base.clone());
        assert_eq!(c.endpoint.as_deref(), Some("https://s3.example.com"));
        assert_eq!(c.region, "env-region");
        assert!(!c.virtual_host_style);

        // New keys drop the environment's session token, unless one is given with them.
        let c = S3Overrides {
            access_key_id: Some("file-key".into()),
            secret_access_key: Some("file-secret".into()),
            ..Default::default()
        }
        .apply(base.clone());
        assert_eq!(c.access_key_id.as_deref(), Some("file-key"));
        assert_eq!(c.secret_access_key.as_deref(), Some("file-secret"));
        assert_eq!(c.session_token, None);
        let c = S3Overrides {
            session_token: Some("file-token".into()),
            ..Default::default()
        }
        .apply(base);
        assert_eq!(c.access_key_id.as_deref(), Some("env-key"));
        assert_eq!(c.session_token.as_deref(), Some("file-token"));
    }

    #[test]
    fn overrides_debug_redacts_secrets() {
        let text = format!("{:?}", all_overrides());
        assert!(text.contains("file-key"), "{text}");
        assert!(
            !text.contains("file-secret") && !text.contains("file-token"),
            "{text}"
        );
    }

    #[test]
    fn open_with_ignores_overrides_for_other_backends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_str().unwrap();
        let s = open_with(path, &all_overrides()).unwrap();
        assert_eq!(s.location(), open(path).unwrap().location());
        let s = open_with("s3://bkt/repo", &all_overrides()).unwrap();
        assert_eq!(s.location(), "s3:http://127.0.0.1:9000/bkt/repo");
    }
}
