//! The S3-compatible backend, built on Apache OpenDAL's S3 service.
//!
//! [`ReadStorage`] and [`WriteStorage`] are synchronous; OpenDAL is async. The backend owns a
//! small tokio runtime (two worker threads) and blocks the calling thread on each operation, so
//! many lifeboat worker threads can use one backend concurrently. Calling it from inside another
//! tokio runtime is allowed too: the call is then driven on a scoped helper thread.
//!
//! Behaviour against the storage contract:
//! - `write` is one PUT, acknowledged by the server before it returns (durable by S3's own
//!   guarantee). Objects larger than [`MULTIPART_THRESHOLD`] are uploaded as a multipart upload
//!   in [`MULTIPART_CHUNK`] parts; S3 makes the object visible only when the upload completes,
//!   so a reader never sees a partial object.
//! - `create_new` sends `If-None-Match: *` (S3 conditional writes; AWS since 2024, MinIO, Ceph
//!   RGW, moto). The server refuses the PUT atomically when the key exists, so
//!   [`Capabilities::atomic_create`] is true. For services that ignore the header, set
//!   `LIFEBOAT_S3_CONDITIONAL_WRITES=0`: `create_new` then checks with a HEAD first (racy) and
//!   the capability is reported false.
//! - Every PUT carries a `Content-MD5` (by default; see [`S3Config::checksum`]; multipart uploads,
//!   for which S3 accepts no MD5, carry CRC32C checksums) so the server verifies the bytes it
//!   stored, and so that buckets with Object Lock (which require a checksum)
//!   accept our writes.
//! - Object lock: OpenDAL 0.59's S3 service has no way to send the `x-amz-object-lock-*` headers
//!   or to read `?retention`, so [`Capabilities::object_lock`] is false,
//!   [`WriteOptions::retain_until`] is refused with [`ErrorKind::Unsupported`] and
//!   [`ReadStorage::retention`] reports `None`. A bucket with a *default retention rule* still
//!   protects every object lifeboat writes: such buckets are versioned, so `remove` only adds a
//!   delete marker (it succeeds, and the retained version stays recoverable with S3 tools);
//!   when the service refuses an operation because of retention it is [`ErrorKind::Locked`].
//!
//! Configuration comes from the repository location (see [`crate::choose`]) and the environment
//! (see [`S3Config::with_env`]).

use crate::{
    validate_key, Capabilities, ErrorKind, ObjectInfo, ReadStorage, Result, StorageError,
    WriteOptions, WriteStorage,
};
use opendal::{ErrorKind as OdKind, OperationContext, Operator};
use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

/// Objects larger than this are uploaded with a multipart upload.
pub const MULTIPART_THRESHOLD: usize = 16 * 1024 * 1024;
/// Part size of multipart uploads (S3's minimum part size is 5 MiB).
pub const MULTIPART_CHUNK: usize = 8 * 1024 * 1024;
/// Parts of one multipart upload sent concurrently.
const MULTIPART_CONCURRENCY: usize = 2;
/// Region used when neither the configuration nor `AWS_REGION`/`AWS_DEFAULT_REGION` name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Everything needed to open an S3 bucket (or a prefix inside one) as a repository.
#[derive(Clone)]
pub struct S3Config {
    /// Endpoint URL (`https://s3.example.com`, `http://127.0.0.1:9000`); `None` means AWS S3
    /// (`https://s3.<region>.amazonaws.com`).
    pub endpoint: Option<String>,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket under which the repository lives (no leading or trailing
    /// `/`; empty for the bucket root).
    pub prefix: String,
    /// Signing region.
    pub region: String,
    /// Access key id; `None` lets OpenDAL load credentials (environment, `~/.aws` files).
    pub access_key_id: Option<String>,
    /// Secret access key, used together with [`Self::access_key_id`].
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Address the bucket as `BUCKET.ENDPOINT` (virtual-host style) instead of `ENDPOINT/BUCKET`.
    pub virtual_host_style: bool,
    /// Send `If-None-Match: *` for `create_new` writes (atomic create). Default true.
    pub conditional_writes: bool,
    /// Let OpenDAL load settings from the environment and `~/.aws/{config,credentials}`.
    /// Default true.
    pub load_aws_config: bool,
    /// Ask the EC2 instance metadata service for credentials when nothing else provides them.
    /// Default false (it is a network call to a link-local address on every machine).
    pub ec2_metadata: bool,
    /// Integrity checksum sent with every PUT: `Some("md5")` (default: `Content-MD5` on single
    /// PUTs, CRC32C on multipart uploads, where S3 accepts no MD5), `Some("crc32c")` (CRC32C
    /// everywhere), or `None` (for services that reject checksum headers).
    pub checksum: Option<String>,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Timeout for one read of the response (not the whole transfer).
    pub read_timeout: Duration,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
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
            .field("conditional_writes", &self.conditional_writes)
            .field("load_aws_config", &self.load_aws_config)
            .field("ec2_metadata", &self.ec2_metadata)
            .field("checksum", &self.checksum)
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_flag(name: &str) -> Option<bool> {
    env(name).map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

impl S3Config {
    /// A configuration with defaults: region [`DEFAULT_REGION`], credentials loaded by OpenDAL,
    /// path-style addressing, conditional writes, MD5 checksums. Nothing is read from the
    /// environment here; see [`Self::with_env`].
    pub fn new(endpoint: Option<&str>, bucket: &str, prefix: &str) -> Self {
        S3Config {
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            region: DEFAULT_REGION.to_string(),
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            virtual_host_style: false,
            conditional_writes: true,
            load_aws_config: true,
            ec2_metadata: false,
            checksum: Some("md5".to_string()),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
        }
    }

    /// Fills the configuration from the environment:
    ///
    /// | variable | effect |
    /// |---|---|
    /// | `LIFEBOAT_S3_ENDPOINT` | endpoint, when the location did not name one (`s3://` form) |
    /// | `AWS_REGION`, `AWS_DEFAULT_REGION` | signing region (default `us-east-1`) |
    /// | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | credentials (else `~/.aws/credentials`, profile `AWS_PROFILE`) |
    /// | `LIFEBOAT_S3_VIRTUAL_HOST=1` | virtual-host style addressing |
    /// | `LIFEBOAT_S3_CONDITIONAL_WRITES=0` | the service ignores `If-None-Match`: check-then-write for `create_new` |
    /// | `LIFEBOAT_S3_CHECKSUM=md5\|crc32c\|none` | integrity checksum of PUTs (default `md5`) |
    /// | `LIFEBOAT_S3_EC2_METADATA=1` | allow credentials from the EC2 instance metadata service |
    pub fn with_env(mut self) -> Self {
        if self.endpoint.is_none() {
            self.endpoint =
                env("LIFEBOAT_S3_ENDPOINT").map(|e| e.trim_end_matches('/').to_string());
        }
        if let Some(region) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
            self.region = region;
        }
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            self.access_key_id = Some(id);
            self.secret_access_key = Some(secret);
            self.session_token = env("AWS_SESSION_TOKEN");
        }
        if let Some(v) = env_flag("LIFEBOAT_S3_VIRTUAL_HOST") {
            self.virtual_host_style = v;
        }
        if let Some(v) = env_flag("LIFEBOAT_S3_CONDITIONAL_WRITES") {
            self.conditional_writes = v;
        }
        if let Some(v) = env_flag("LIFEBOAT_S3_EC2_METADATA") {
            self.ec2_metadata = v;
        }
        if let Some(v) = env("LIFEBOAT_S3_CHECKSUM") {
            self.checksum = match v.to_ascii_lowercase().as_str() {
                "none" | "off" | "0" => None,
                other => Some(other.to_string()),
            };
        }
        self
    }

    /// The location string shown in messages: `s3:ENDPOINT/BUCKET/PREFIX` or `s3://BUCKET/PREFIX`.
    pub fn location(&self) -> String {
        let path = if self.prefix.is_empty() {
            self.bucket.clone()
        } else {
            format!("{}/{}", self.bucket, self.prefix)
        };
        match &self.endpoint {
            Some(endpoint) => format!("s3:{endpoint}/{path}"),
            None => format!("s3://{path}"),
        }
    }

    fn endpoint_display(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("AWS S3 (region {})", self.region),
        }
    }
}

/// A repository stored in an S3-compatible bucket.
pub struct S3Storage {
    /// Single-request operations.
    op: Operator,
    /// Multipart uploads (a different checksum algorithm).
    op_multipart: Operator,
    rt: Option<tokio::runtime::Runtime>,
    location: String,
    bucket: String,
    endpoint: String,
    region: String,
    atomic_create: bool,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("location", &self.location)
            .field("atomic_create", &self.atomic_create)
            .finish()
    }
}

impl Drop for S3Storage {
    fn drop(&mut self) {
        // Dropping a runtime inside another runtime's context panics; this never blocks.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
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
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lifeboat-s3")
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the S3 I/O runtime: {e}")))?;
        let client = {
            let _guard = rt.enter();
            reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .read_timeout(config.read_timeout)
                .build()
        };
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                // Never drop a runtime in place: the caller may be inside another runtime.
                rt.shutdown_background();
                return Err(fail(format!("cannot build the HTTP client: {e}")));
            }
        };
        let transport = opendal::HttpTransporter::new(
            opendal_http_transport_reqwest::ReqwestTransport::new(client),
        );
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
        let (op, op_multipart) = match build(config.checksum.as_deref())
            .and_then(|op| Ok((op, build(multipart_checksum)?)))
        {
            Ok(ops) => ops,
            Err(e) => {
                rt.shutdown_background();
                return Err(e);
            }
        };

        let atomic_create =
            config.conditional_writes && op.info().capability().write_with_if_not_exists;
        Ok(S3Storage {
            op,
            op_multipart,
            rt: Some(rt),
            location,
            bucket: config.bucket.clone(),
            endpoint: config.endpoint_display(),
            region: config.region.clone(),
            atomic_create,
        })
    }

    /// Runs one async OpenDAL call to completion on the backend's runtime.
    fn block_on<F>(&self, f: F) -> F::Output
    where
        F: IntoFuture,
        F::IntoFuture: Send,
        F::Output: Send,
    {
        let f = f.into_future();
        let rt = self.rt.as_ref().expect("runtime lives until drop");
        if tokio::runtime::Handle::try_current().is_ok() {
            // Already inside a runtime (a caller's async context): block a helper thread instead.
            std::thread::scope(|s| {
                s.spawn(|| rt.block_on(f))
                    .join()
                    .expect("S3 helper thread panicked")
            })
        } else {
            rt.block_on(f)
        }
    }

    /// Classifies an OpenDAL error and says what to check.
    fn map_err(
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

    fn short_read(&self, key: &str, offset: u64, length: u64, got: usize) -> StorageError {
        StorageError::new(
            ErrorKind::ShortRead,
            "read",
            self.location.clone(),
            key,
            format!("range {offset}+{length} beyond the end of the object (got {got} bytes)"),
        )
    }
}

/// S3 answers a delete or overwrite of a retained object with 403 AccessDenied; only the
/// message tells it apart from missing rights.
fn is_lock_denial(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("object lock") || t.contains("objectlock") || t.contains("retention")
}

impl ReadStorage for S3Storage {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_create: self.atomic_create,
            object_lock: false,
            ranged_read: true,
        }
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        validate_key(key)?;
        self.block_on(self.op.read(key))
            .map(|b| b.to_vec())
            .map_err(|e| self.map_err("read", key, e, false))
    }

    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        validate_key(key)?;
        let end = offset
            .checked_add(length)
            .ok_or_else(|| self.short_read(key, offset, length, 0))?;
        if length == 0 {
            // An empty HTTP range is not expressible; check the bounds with a HEAD.
            let info = self.stat(key)?;
            if offset > info.size {
                return Err(self.short_read(key, offset, length, 0));
            }
            return Ok(Vec::new());
        }
        let data = match self.block_on(self.op.read_with(key).range(offset..end)) {
            Ok(data) => data,
            Err(e) if matches!(e.kind(), OdKind::NotFound | OdKind::RangeNotSatisfied) => {
                return Err(self.map_err("read", key, e, false))
            }
            Err(e) => {
                // OpenDAL reports a range past the end as "reader got too little data"
                // (Unexpected); tell that apart from real failures by the object's size.
                return match self.stat(key) {
                    Ok(info) if info.size < end => Err(self.short_read(
                        key,
                        offset,
                        length,
                        info.size.saturating_sub(offset) as usize,
                    )),
                    _ => Err(self.map_err("read", key, e, false)),
                };
            }
        };
        if (data.len() as u64) < length {
            return Err(self.short_read(key, offset, length, data.len()));
        }
        Ok(data.to_vec())
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let entries = self
            .block_on(self.op.list_with(prefix).recursive(true))
            .map_err(|e| self.map_err("list", prefix, e, false))?;
        Ok(entries
            .into_iter()
            .filter(|entry| {
                let path = entry.path();
                // Skip directory markers and anything outside the prefix.
                !path.ends_with('/') && path.starts_with(prefix) && entry.metadata().is_file()
            })
            .map(|entry| {
                let size = entry.metadata().content_length();
                ObjectInfo {
                    key: entry.path().to_string(),
                    size,
                }
            })
            .collect())
    }

    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        validate_key(key)?;
        let meta = self
            .block_on(self.op.stat(key))
            .map_err(|e| self.map_err("stat", key, e, false))?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size: meta.content_length(),
        })
    }
}

impl WriteStorage for S3Storage {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        validate_key(key)?;
        if options.retain_until.is_some() {
            return Err(StorageError::new(
                ErrorKind::Unsupported,
                "write",
                self.location.clone(),
                key,
                "per-object object-lock retention is not available on the S3 backend (OpenDAL \
                 cannot send object-lock headers); give the bucket a default retention rule \
                 instead",
            ));
        }
        let create_new = options.create_new;
        if create_new && !self.atomic_create {
            match self.stat(key) {
                Ok(_) => {
                    return Err(StorageError::new(
                        ErrorKind::AlreadyExists,
                        "write",
                        self.location.clone(),
                        key,
                        "object exists",
                    ))
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
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
            .map_err(|e| self.map_err("write", key, e, create_new))
    }

    fn remove(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        match self.block_on(self.op.delete(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == OdKind::NotFound => Ok(()),
            Err(e) => Err(self.map_err("remove", key, e, false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_strings() {
        let c = S3Config::new(Some("http://127.0.0.1:9000/"), "bkt", "/repo/x/");
        assert_eq!(c.location(), "s3:http://127.0.0.1:9000/bkt/repo/x");
        let c = S3Config::new(None, "bkt", "");
        assert_eq!(c.location(), "s3://bkt");
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut c = S3Config::new(None, "b", "");
        c.secret_access_key = Some("hunter2".into());
        assert!(!format!("{c:?}").contains("hunter2"));
    }

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
