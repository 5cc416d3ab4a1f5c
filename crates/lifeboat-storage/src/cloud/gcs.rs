//! Google Cloud Storage: [`GcsConfig`], from the location `gs://BUCKET/PREFIX` and the
//! environment, and the OpenDAL operator it builds.

use super::backend::{CloudStorage, Provider};
use crate::runtime::IoRuntime;
use crate::{ErrorKind, Result, StorageError};
use std::time::Duration;

const PROVIDER: Provider = Provider {
    name: "Google Cloud Storage",
    container_word: "bucket",
    credentials_hint: "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or \
                       GOOGLE_ACCESS_TOKEN, or log in with `gcloud auth application-default login`",
};

/// Settings of a GCS repository.
#[derive(Clone, Debug, Default)]
pub struct GcsConfig {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// Endpoint (default `https://storage.googleapis.com`): `LIFEBOAT_GCS_ENDPOINT`, or
    /// `STORAGE_EMULATOR_HOST` (Google's convention for emulators; requests are then unsigned).
    pub endpoint: Option<String>,
    /// Send unsigned requests (an emulator, a public bucket).
    pub anonymous: bool,
    /// A service-account (or other) credentials JSON file: `GOOGLE_APPLICATION_CREDENTIALS`.
    pub credential_path: Option<String>,
    /// An OAuth2 access token: `GOOGLE_ACCESS_TOKEN` (restic's name).
    pub token: Option<String>,
    /// Create-if-absent writes are refused atomically by the service (`ifGenerationMatch=0`;
    /// default true; `LIFEBOAT_GCS_CONDITIONAL_WRITES=0` for emulators that ignore it).
    pub conditional_writes: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl GcsConfig {
    /// A configuration for `bucket` and `prefix`, completed from the environment.
    pub fn from_env(bucket: &str, prefix: &str) -> GcsConfig {
        let emulator = env("STORAGE_EMULATOR_HOST").map(|h| {
            if h.contains("://") {
                h
            } else {
                format!("http://{h}")
            }
        });
        GcsConfig {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            endpoint: env("LIFEBOAT_GCS_ENDPOINT").or_else(|| emulator.clone()),
            anonymous: emulator.is_some() || env("LIFEBOAT_GCS_ANONYMOUS").as_deref() == Some("1"),
            credential_path: env("GOOGLE_APPLICATION_CREDENTIALS"),
            token: env("GOOGLE_ACCESS_TOKEN"),
            conditional_writes: env("LIFEBOAT_GCS_CONDITIONAL_WRITES").as_deref() != Some("0"),
        }
    }

    /// `gs://BUCKET/PREFIX`.
    pub fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("gs://{}", self.bucket)
        } else {
            format!("gs://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Builds the backend. No request is sent: a wrong bucket or credentials show up in the first
/// operation's error.
pub fn open(config: &GcsConfig) -> Result<CloudStorage> {
    let location = config.location();
    let fail = |m: String| StorageError::new(ErrorKind::Other, "open", location.clone(), "", m);
    let rt = IoRuntime::new("lifeboat-gcs").map_err(|e| fail(format!("cannot start I/O: {e}")))?;
    let client = rt
        .http_client(Duration::from_secs(10), Duration::from_secs(120))
        .map_err(|e| fail(format!("cannot build the HTTP client: {e}")))?;
    let mut b = opendal::services::Gcs::default()
        .bucket(&config.bucket)
        .root(&format!("/{}", config.prefix));
    if let Some(ep) = &config.endpoint {
        b = b.endpoint(ep.trim_end_matches('/'));
    }
    if config.anonymous {
        // No token is fetched, no metadata server or gcloud file is consulted.
        b = b
            .skip_signature()
            .disable_vm_metadata()
            .disable_config_load();
    } else {
        if let Some(path) = &config.credential_path {
            b = b.credential_path(path);
        }
        if let Some(token) = &config.token {
            b = b.token(token.clone());
        }
    }
    let op = opendal::Operator::new(b)
        .map_err(|e| fail(format!("invalid Google Cloud Storage configuration: {e}")))?
        .with_context(
            opendal::OperationContext::new().with_http_transport(IoRuntime::transport(client)),
        );
    let endpoint = config
        .endpoint
        .clone()
        .unwrap_or_else(|| "https://storage.googleapis.com".into());
    Ok(CloudStorage::new(
        op,
        rt,
        location,
        config.bucket.clone(),
        endpoint,
        PROVIDER,
        config.conditional_writes,
    ))
}
