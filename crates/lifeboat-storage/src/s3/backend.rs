//! [`S3Storage`]: the storage contract on top of OpenDAL's S3 service, with the tokio runtime
//! that drives it and the mapping of OpenDAL and S3 errors to [`ErrorKind`]s.

use super::config::S3Config;
use super::object_lock::{rfc3339, LockApi, LockFailure};
use crate::dal::{self, DalBackend};
use crate::runtime::IoRuntime;
use crate::{
    validate_key, Capabilities, ErrorKind, ObjectInfo, ReadStorage, Result, Retention,
    StorageError, WriteOptions, WriteStorage,
};
use opendal::{ErrorKind as OdKind, OperationContext, Operator};
use std::fmt;
use std::future::IntoFuture;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Objects larger than this are uploaded with a multipart upload.
pub const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
/// Part size of multipart uploads (S3's minimum part size is 5 MiB).
pub const MULTIPART_CHUNK: usize = 8 * 1024 * 1024;
/// Parts of one multipart upload sent concurrently.
const MULTIPART_CONCURRENCY: usize = 2;

/// A repository stored in an S3-compatible bucket.
pub struct S3Storage {
    /// Single-request operations.
    op: Operator,
    /// Multipart uploads (a different checksum algorithm).
    op_multipart: Operator,
    rt: IoRuntime,
    location: String,
    bucket: String,
    endpoint: String,
    region: String,
    atomic_create: bool,
    /// Signed requests for object lock; `None` without explicit credentials.
    lock: Option<LockApi>,
    /// Whether the bucket has object lock enabled (probed once, on first use).
    lock_enabled: OnceLock<bool>,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("location", &self.location)
            .field("atomic_create", &self.atomic_create)
            .finish()
    }
}

impl S3Storage {
    /// Builds the backend. No request is sent: a wrong endpoint, bucket or credentials show up
    /// in the first operation's error.
    pub fn new(config: S3Config) -> Result<Self> {
        let location = config.location();
        let fail = |message: String| {
            StorageError::new(ErrorKind::Other, "open", location.clone(), "", message)
        };
        if config.bucket.is_empty() {
            return Err(fail(
                "no bucket given (s3:https://ENDPOINT/BUCKET/PREFIX or s3://BUCKET/PREFIX)".into(),
            ));
        }
        if let Some(checksum) = &config.checksum {
            if checksum != "md5" && checksum != "crc32c" {
                return Err(fail(format!(
                    "unknown checksum '{checksum}' (LIFEBOAT_S3_CHECKSUM: md5, crc32c or none)"
                )));
            }
        }
        let rt = IoRuntime::new("lifeboat-s3")
            .map_err(|e| fail(format!("cannot start the S3 I/O runtime: {e}")))?;
        let client = rt
            .http_client(config.connect_timeout, config.read_timeout)
            .map_err(|e| fail(format!("cannot build the HTTP client: {e}")))?;
        let lock = LockApi::new(&config, client.clone());
        let transport = IoRuntime::transport(client);
        let build = |checksum: Option<&str>| -> Result<Operator> {
            let mut builder = opendal::services::S3::default()
                .bucket(&config.bucket)
                .root(&format!("/{}", config.prefix))
                .region(&config.region);
            if let Some(endpoint) = &config.endpoint {
                builder = builder.endpoint(endpoint);
            }
            if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
                builder = builder.access_key_id(id).secret_access_key(secret);
                if let Some(token) = &config.session_token {
                    builder = builder.session_token(token);
                }
            }
            if config.virtual_host_style {
                builder = builder.enable_virtual_host_style();
            }
            if !config.load_aws_config {
                builder = builder.disable_config_load();
            }
            if !config.ec2_metadata {
                builder = builder.disable_ec2_metadata();
            }
            if let Some(checksum) = checksum {
                builder = builder.checksum_algorithm(checksum);
            }
            Ok(Operator::new(builder)
                .map_err(|e| fail(format!("invalid S3 configuration: {e}")))?
                .with_context(OperationContext::new().with_http_transport(transport.clone())))
        };
        // S3 accepts no MD5 for multipart uploads: those use CRC32C instead.
        let multipart_checksum = config.checksum.as_deref().map(|_| "crc32c");
        let op = build(config.checksum.as_deref())?;
        let op_multipart = build(multipart_checksum)?;

        let atomic_create =
            config.conditional_writes && op.info().capability().write_with_if_not_exists;
        Ok(S3Storage {
            op,
            op_multipart,
            rt,
            location,
            bucket: config.bucket.clone(),
            endpoint: config.endpoint_display(),
            region: config.region.clone(),
            atomic_create,
            lock,
            lock_enabled: OnceLock::new(),
        })
    }

    /// Whether the bucket has object lock enabled: `GET /BUCKET?object-lock`, sent once. Any
    /// failure (no explicit credentials, unreachable service, no lock configuration) is "no".
    fn lock_enabled(&self) -> bool {
        *self.lock_enabled.get_or_init(|| match &self.lock {
            Some(api) => self.block_on(api.bucket_lock_enabled()),
            None => false,
        })
    }

    /// An error of a direct object-lock request, classified by its HTTP status and S3 code.
    fn lock_err(&self, op: &'static str, key: &str, failure: LockFailure) -> StorageError {
        let LockFailure { status, text } = failure;
        let b = &self.bucket;
        let (kind, advice) = match status {
            None => (
                ErrorKind::Transient,
                format!(
                    "object-lock request to {} (bucket '{b}') failed",
                    self.endpoint
                ),
            ),
            Some(404) => (ErrorKind::NotFound, "no such object".to_string()),
            Some(403) if is_lock_denial(&text) => (
                ErrorKind::Locked,
                format!("bucket '{b}' refuses: the object is under object-lock retention"),
            ),
            Some(403) => (
                ErrorKind::PermissionDenied,
                format!(
                    "object-lock request to bucket '{b}' was refused: the credentials need \
                     s3:PutObjectRetention and s3:GetObjectRetention"
                ),
            ),
            Some(429) | Some(500..=599) => (
                ErrorKind::Transient,
                format!("{} failed temporarily", self.endpoint),
            ),
            Some(s) => (
                ErrorKind::Other,
                format!("object-lock request to bucket '{b}' failed with HTTP {s}"),
            ),
        };
        StorageError::new(
            kind,
            op,
            self.location.clone(),
            key,
            format!("{advice} ({text})"),
        )
    }

    /// Sets the retention of a stored object (`PUT ?retention`).
    fn put_retention(&self, key: &str, mode: &str, until: SystemTime) -> Result<()> {
        let api = self.lock.as_ref().expect("object lock needs the lock API");
        self.block_on(api.put_retention(key, mode, until))
            .map_err(|f| self.lock_err("write", key, f))
    }

    /// Runs one async OpenDAL call to completion on the backend's runtime.
    fn block_on<F>(&self, f: F) -> F::Output
    where
        F: IntoFuture,
        F::IntoFuture: Send,
        F::Output: Send,
    {
        self.rt.block_on(f)
    }
}

/// S3 answers a delete or overwrite of a retained object with 403 AccessDenied; only the
/// message tells it apart from missing rights.
fn is_lock_denial(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("object lock") || t.contains("objectlock") || t.contains("retention")
}

impl dal::DalBackend for S3Storage {
    fn dal(&self) -> (&Operator, &IoRuntime) {
        (&self.op, &self.rt)
    }

    fn dal_location(&self) -> String {
        self.location.clone()
    }

    /// Classifies an OpenDAL error and says what to check.
    fn dal_err(
        &self,
        op: &'static str,
        key: &str,
        e: opendal::Error,
        create_new: bool,
    ) -> StorageError {
        let text = e.to_string();
        let (b, ep, region) = (&self.bucket, &self.endpoint, &self.region);
        let (kind, advice) = match e.kind() {
            OdKind::NotFound => (ErrorKind::NotFound, "no such object".to_string()),
            _ if text.contains("failed to load signing credential") => (
                ErrorKind::PermissionDenied,
                format!(
                    "no credentials for bucket '{b}' at {ep}: set AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, or configure ~/.aws/credentials (AWS_PROFILE)"
                ),
            ),
            OdKind::ConfigInvalid if text.contains("NoSuchBucket") => (
                ErrorKind::NotFound,
                format!(
                    "bucket '{b}' does not exist at {ep}: check the bucket name and the \
                     endpoint, or create the bucket"
                ),
            ),
            OdKind::AlreadyExists => (ErrorKind::AlreadyExists, "object exists".to_string()),
            OdKind::ConditionNotMatch if create_new => {
                (ErrorKind::AlreadyExists, "object exists".to_string())
            }
            OdKind::PermissionDenied if is_lock_denial(&text) => (
                ErrorKind::Locked,
                format!("bucket '{b}' refuses: the object is under object-lock retention"),
            ),
            OdKind::PermissionDenied => (
                ErrorKind::PermissionDenied,
                format!(
                    "access to bucket '{b}' at {ep} was refused: check the credentials \
                     (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials), their \
                     rights on the bucket, and the region ({region})"
                ),
            ),
            OdKind::RateLimited => (
                ErrorKind::Transient,
                format!("{ep} asks to slow down (rate limited)"),
            ),
            OdKind::RangeNotSatisfied => (
                ErrorKind::ShortRead,
                "range beyond the end of the object".to_string(),
            ),
            OdKind::Unsupported => (
                ErrorKind::Unsupported,
                format!("{ep} does not support this operation"),
            ),
            // A response body cut short by the connection: retrying may succeed.
            _ if e.is_temporary() || text.contains("http response got too little data") => (
                ErrorKind::Transient,
                format!(
                    "request to {ep} (bucket '{b}') failed: check that the endpoint URL is right \
                     and reachable"
                ),
            ),
            OdKind::ConfigInvalid => (
                ErrorKind::Other,
                format!(
                    "invalid S3 configuration for bucket '{b}' at {ep}: check the endpoint, \
                     region ({region}) and credentials"
                ),
            ),
            _ => (
                ErrorKind::Other,
                format!(
                    "request to bucket '{b}' at {ep} failed: check the endpoint, the bucket \
                     name, the region ({region}) and the credentials"
                ),
            ),
        };
        StorageError {
            kind,
            op,
            location: self.location.clone(),
            key: key.to_string(),
            message: format!("{advice} ({text})"),
            source: Some(Box::new(e)),
        }
    }
}

impl ReadStorage for S3Storage {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_create: self.atomic_create,
            object_lock: self.lock_enabled(),
            ranged_read: true,
        }
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        validate_key(key)?;
        dal::read_only(self, || self.op.read(key))
            .map(|b| b.to_vec())
            .map_err(|e| self.dal_err("read", key, e, false))
    }

    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        dal::read_range(self, key, offset, length)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        dal::list(self, prefix)
    }

    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        dal::stat(self, key)
    }

    fn retention(&self, key: &str) -> Result<Option<Retention>> {
        validate_key(key)?;
        if !self.lock_enabled() {
            return Ok(None);
        }
        let api = self.lock.as_ref().expect("object lock needs the lock API");
        self.block_on(api.retention(key))
            .map_err(|f| self.lock_err("retention", key, f))
    }
}

impl WriteStorage for S3Storage {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        validate_key(key)?;
        if options.retain_until.is_some() && !self.lock_enabled() {
            return Err(StorageError::new(
                ErrorKind::Unsupported,
                "write",
                self.location.clone(),
                key,
                format!(
                    "bucket '{}' has no object lock enabled (or it could not be checked: \
                     per-object retention needs credentials given in AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY)",
                    self.bucket
                ),
            ));
        }
        let create_new = options.create_new;
        if create_new && !self.atomic_create {
            dal::refuse_existing(self, key)?;
        }
        let if_not_exists = create_new && self.atomic_create;
        let fut = if data.len() > MULTIPART_THRESHOLD {
            self.op_multipart
                .write_with(key, data.to_vec())
                .if_not_exists(if_not_exists)
                .chunk(MULTIPART_CHUNK)
                .concurrent(MULTIPART_CONCURRENCY)
        } else {
            self.op
                .write_with(key, data.to_vec())
                .if_not_exists(if_not_exists)
        };
        self.block_on(fut)
            .map(|_| ())
            .map_err(|e| self.dal_err("write", key, e, create_new))?;
        if let Some(until) = options.retain_until {
            let mode = options.retention_mode.as_deref().unwrap_or("COMPLIANCE");
            self.put_retention(key, mode, until)?;
        }
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        // In an object-lock bucket (always versioned) a plain DELETE of a retained object
        // succeeds by adding a delete marker: the object would vanish from the repository while
        // its bytes stay retained. Refuse instead, as the service does for a versioned delete.
        if self.lock_enabled() {
            match self.retention(key) {
                Ok(Some(r)) if r.retain_until > SystemTime::now() => {
                    return Err(StorageError::new(
                        ErrorKind::Locked,
                        "remove",
                        self.location.clone(),
                        key,
                        format!(
                            "bucket '{}' refuses: the object is under {} object-lock retention \
                             until {}",
                            self.bucket,
                            r.mode,
                            rfc3339(r.retain_until)
                        ),
                    ))
                }
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        match self.block_on(self.op.delete(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == OdKind::NotFound => Ok(()),
            Err(e) => Err(self.dal_err("remove", key, e, false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_and_droppable_inside_another_runtime() {
        let outer = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        outer.block_on(async {
            let mut c = S3Config::new(Some("http://127.0.0.1:1"), "bkt", "p");
            c.access_key_id = Some("k".into());
            c.secret_access_key = Some("s".into());
            c.load_aws_config = false;
            let s = S3Storage::new(c.clone()).unwrap();
            let e = s.read("config").unwrap_err();
            assert_eq!(e.kind, ErrorKind::Transient, "{e}");
            assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
            drop(s);
            c.checksum = Some("sha3".into());
            assert!(S3Storage::new(c).is_err());
        });
    }

    #[test]
    fn retain_until_is_unsupported_without_network() {
        let s = S3Storage::new(S3Config::new(Some("http://127.0.0.1:1"), "b", "p")).unwrap();
        let opts = WriteOptions {
            retain_until: Some(std::time::SystemTime::now()),
            ..Default::default()
        };
        let e = s.write("k", b"x", &opts).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(!s.capabilities().object_lock);
        assert!(s.capabilities().atomic_create);
    }
}
