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
//! - Object lock: OpenDAL 0.59's S3 service cannot send the `x-amz-object-lock-*` headers or
//!   read `?retention`, so the backend sends those requests itself, signed with SigV4
//!   (path-style, or virtual-host style when configured). [`Capabilities::object_lock`] is true
//!   only when the bucket has object lock enabled (`GET /BUCKET?object-lock`, probed once on
//!   first use) and the credentials were given explicitly (configuration or
//!   `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; credentials OpenDAL loads from `~/.aws` are
//!   not available to these requests). A write with [`WriteOptions::retain_until`] is the
//!   ordinary PUT followed by `PUT ?retention` (mode [`WriteOptions::retention_mode`], default
//!   `COMPLIANCE`); on other buckets it is refused with [`ErrorKind::Unsupported`].
//!   [`ReadStorage::retention`] is `GET ?retention` (with a HEAD's `x-amz-object-lock-*`
//!   headers as fallback for services that ignore the sub-resource). Object-lock buckets are
//!   versioned, so a plain DELETE of a retained object would only add a delete marker: `remove`
//!   checks the retention first and refuses with [`ErrorKind::Locked`]; a refusal by the
//!   service because of retention is [`ErrorKind::Locked`] too.
//!
//! Configuration comes from the repository location (see [`crate::choose`]) and the environment
//! (see [`S3Config::with_env`]).

use crate::{
    validate_key, Capabilities, ErrorKind, ObjectInfo, ReadStorage, Result, Retention,
    StorageError, WriteOptions, WriteStorage,
};
use opendal::{ErrorKind as OdKind, OperationContext, Operator};
use std::fmt;
use std::future::IntoFuture;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        let lock = LockApi::new(&config, client.clone());
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
            lock,
            lock_enabled: OnceLock::new(),
        })
    }

    /// Whether the bucket has object lock enabled: `GET /BUCKET?object-lock`, sent once. Any
    /// failure (no explicit credentials, unreachable service, no lock configuration) is "no".
    fn lock_enabled(&self) -> bool {
        *self.lock_enabled.get_or_init(|| {
            let Some(api) = &self.lock else {
                return false;
            };
            let path = api.path(None);
            match self.block_on(api.send("GET", &path, "object-lock", Vec::new())) {
                Ok(r) if r.status == 200 => {
                    xml_tag(&r.body, "ObjectLockEnabled") == Some("Enabled")
                }
                Ok(r) => {
                    tracing::debug!(r.status, r.body, "bucket reports no object lock");
                    false
                }
                Err(e) => {
                    tracing::debug!(error = e, "object-lock probe failed");
                    false
                }
            }
        })
    }

    /// An error of a direct object-lock request, classified by its HTTP status and S3 code.
    fn lock_err(
        &self,
        op: &'static str,
        key: &str,
        status: Option<u16>,
        text: String,
    ) -> StorageError {
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
        let body = format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>{mode}</Mode>\
             <RetainUntilDate>{}</RetainUntilDate></Retention>",
            rfc3339(until)
        );
        match self.block_on(api.send("PUT", &api.path(Some(key)), "retention", body.into_bytes())) {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) => Err(self.lock_err("write", key, Some(r.status), r.body)),
            Err(e) => Err(self.lock_err("write", key, None, e)),
        }
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
            object_lock: self.lock_enabled(),
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

    fn retention(&self, key: &str) -> Result<Option<Retention>> {
        validate_key(key)?;
        if !self.lock_enabled() {
            return Ok(None);
        }
        let api = self.lock.as_ref().expect("object lock needs the lock API");
        let path = api.path(Some(key));
        let Reply {
            status, mut body, ..
        } = self
            .block_on(api.send("GET", &path, "retention", Vec::new()))
            .map_err(|e| self.lock_err("retention", key, None, e))?;
        let mut fields = (
            xml_tag(&body, "Mode").map(str::to_string),
            xml_tag(&body, "RetainUntilDate").map(str::to_string),
        );
        let is_xml = {
            let t = body.trim_start();
            t.starts_with("<?xml") || t.starts_with("<Retention")
        };
        if status == 200 && !is_xml {
            // A service that ignores `?retention` (moto answers with the object itself): the
            // same fields come as headers of a HEAD.
            let head = self
                .block_on(api.send("HEAD", &path, "", Vec::new()))
                .map_err(|e| self.lock_err("retention", key, None, e))?;
            if head.status != 200 {
                return Err(self.lock_err("retention", key, Some(head.status), head.body));
            }
            if head.until.is_none() {
                return Ok(None);
            }
            body = format!("HEAD: mode {:?}, until {:?}", head.mode, head.until);
            fields = (head.mode, head.until);
        }
        match status {
            200 => {
                let mode = fields.0.unwrap_or_else(|| "COMPLIANCE".to_string());
                let until = fields.1.as_deref().and_then(parse_rfc3339).ok_or_else(|| {
                    self.lock_err(
                        "retention",
                        key,
                        Some(status),
                        format!("unreadable retention: {body}"),
                    )
                })?;
                Ok(Some(Retention {
                    mode,
                    retain_until: until,
                }))
            }
            404 if body.contains("NoSuchKey") => {
                Err(self.lock_err("retention", key, Some(404), body))
            }
            // No retention on the object (S3: 404 NoSuchObjectLockConfiguration).
            404 => Ok(None),
            _ if body.contains("NoSuchObjectLockConfiguration") => Ok(None),
            _ => Err(self.lock_err("retention", key, Some(status), body)),
        }
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
            .map_err(|e| self.map_err("write", key, e, create_new))?;
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
            Err(e) => Err(self.map_err("remove", key, e, false)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Object lock: the `?retention` and `?object-lock` requests OpenDAL cannot send, signed here
// with AWS Signature Version 4.

/// The answer to one direct request.
struct Reply {
    status: u16,
    body: String,
    /// `x-amz-object-lock-mode` (HEAD answers).
    mode: Option<String>,
    /// `x-amz-object-lock-retain-until-date` (HEAD answers).
    until: Option<String>,
}

/// Direct, SigV4-signed requests for the object-lock sub-resources.
struct LockApi {
    client: reqwest::Client,
    /// `http` or `https`.
    scheme: String,
    /// Host (and port) requests go to.
    host: String,
    /// Path prefix up to and including the bucket for path-style addressing (`/bucket`), empty
    /// for virtual-host style.
    bucket_path: String,
    /// Key prefix of the repository inside the bucket (no leading or trailing `/`).
    prefix: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

/// Percent-encodes a path for SigV4 (S3: every byte but the unreserved set and `/`).
fn uri_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// UTC fields of a time: (year, month, day, hour, minute, second).
fn utc_fields(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    (y, mo, d, s / 3600, s / 60 % 60, s % 60)
}

/// `2026-11-22T10:00:00Z`. Rounded *up* to the second so the retention is never shorter than
/// asked.
fn rfc3339(t: SystemTime) -> String {
    let t = match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.subsec_nanos() > 0 => UNIX_EPOCH + Duration::from_secs(d.as_secs() + 1),
        _ => t,
    };
    let (y, mo, d, h, mi, s) = utc_fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if s.len() < 20 || s.as_bytes()[4] != b'-' || !s.as_bytes()[10].eq_ignore_ascii_case(&b'T') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut text: String = frac[..digits].chars().take(9).collect();
        while text.len() < 9 {
            text.push('0');
        }
        nanos = text.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (rest.get(1..3)?.parse::<i64>().ok()? * 3600
                + rest.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// The text of the first `<tag>…</tag>` in an XML document.
fn xml_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml[start..end].trim())
}

impl LockApi {
    /// `None` when the credentials are not given explicitly (configuration or environment):
    /// credentials OpenDAL loads itself (`~/.aws`, instance metadata) are not available here.
    fn new(config: &S3Config, client: reqwest::Client) -> Option<Self> {
        let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) else {
            return None;
        };
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", config.region));
        let (scheme, rest) = endpoint.split_once("://")?;
        let host = rest.split('/').next()?.to_string();
        let (host, bucket_path) = if config.virtual_host_style {
            (format!("{}.{host}", config.bucket), String::new())
        } else {
            (host, format!("/{}", config.bucket))
        };
        Some(LockApi {
            client,
            scheme: scheme.to_ascii_lowercase(),
            host,
            bucket_path,
            prefix: config.prefix.clone(),
            region: config.region.clone(),
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
            session_token: config.session_token.clone(),
        })
    }

    /// The request path of a repository key (or of the bucket for `None`).
    fn path(&self, key: Option<&str>) -> String {
        match key {
            None if self.bucket_path.is_empty() => "/".to_string(),
            None => self.bucket_path.clone(),
            Some(key) if self.prefix.is_empty() => format!("{}/{key}", self.bucket_path),
            Some(key) => format!("{}/{}/{key}", self.bucket_path, self.prefix),
        }
    }

    /// Sends one signed request with a sub-resource query (`retention`, `object-lock`) and
    /// returns the status and body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        subresource: &str,
        body: Vec<u8>,
    ) -> std::result::Result<Reply, String> {
        let now = SystemTime::now();
        let (y, mo, d, h, mi, s) = utc_fields(now);
        let date = format!("{y:04}{mo:02}{d:02}");
        let amz_date = format!("{date}T{h:02}{mi:02}{s:02}Z");
        let payload_hash = sha256_hex(&body);
        let query = if subresource.is_empty() {
            String::new()
        } else {
            format!("{subresource}=")
        };
        let path = uri_encode_path(path);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-amz-content-sha256".into(), payload_hash.clone()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        if !body.is_empty() {
            use base64::Engine;
            let md5 = <md5::Md5 as md5::Digest>::digest(&body);
            headers.push((
                "content-md5".into(),
                base64::engine::general_purpose::STANDARD.encode(md5),
            ));
        }
        if let Some(token) = &self.session_token {
            headers.push(("x-amz-security-token".into(), token.clone()));
        }
        headers.sort();
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let signed_headers = headers
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_request = format!(
            "{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical_request.as_bytes())
        );
        let k_date = hmac_sha256(
            format!("AWS4{}", self.secret_access_key).as_bytes(),
            date.as_bytes(),
        );
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, b"s3");
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, \
             Signature={signature}",
            self.access_key_id
        );
        let url = if query.is_empty() {
            format!("{}://{}{path}", self.scheme, self.host)
        } else {
            format!("{}://{}{path}?{query}", self.scheme, self.host)
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .request(method, &url)
            .header("authorization", authorization);
        for (k, v) in &headers {
            if k != "host" {
                request = request.header(k.as_str(), v.as_str());
            }
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (mode, until) = (
            header("x-amz-object-lock-mode"),
            header("x-amz-object-lock-retain-until-date"),
        );
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{url}: reading the response: {e}"))?;
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            mode,
            until,
        })
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
    fn times_format_and_parse() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
        assert_eq!(parse_rfc3339("2026-11-18T11:06:40Z"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-18T13:06:40+02:00"), Some(t));
        assert_eq!(
            parse_rfc3339("2026-11-18T11:06:40.250Z"),
            Some(t + Duration::from_millis(250))
        );
        // Rounded up, never shorter than asked.
        assert_eq!(
            rfc3339(t + Duration::from_millis(1)),
            "2026-11-18T11:06:41Z"
        );
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z")
                .map(rfc3339)
                .as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            xml_tag("<Retention><Mode>GOVERNANCE</Mode></Retention>", "Mode"),
            Some("GOVERNANCE")
        );
        assert_eq!(uri_encode_path("/b/a b+c/d"), "/b/a%20b%2Bc/d");
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
