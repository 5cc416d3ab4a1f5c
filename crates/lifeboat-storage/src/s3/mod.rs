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
//!
//! The module is split by concern: `config` (the [`S3Config`] and its environment variables),
//! `backend` ([`S3Storage`], the OpenDAL adapter implementing the storage contract), `object_lock`
//! (the `?retention` and `?object-lock` requests OpenDAL cannot send) and `sign` (AWS Signature
//! Version 4 for those requests).
//!
//! [`ReadStorage`]: crate::ReadStorage
//! [`WriteStorage`]: crate::WriteStorage
//! [`Capabilities::atomic_create`]: crate::Capabilities::atomic_create
//! [`Capabilities::object_lock`]: crate::Capabilities::object_lock
//! [`WriteOptions::retain_until`]: crate::WriteOptions::retain_until
//! [`WriteOptions::retention_mode`]: crate::WriteOptions::retention_mode
//! [`ErrorKind::Unsupported`]: crate::ErrorKind::Unsupported
//! [`ErrorKind::Locked`]: crate::ErrorKind::Locked
//! [`ReadStorage::retention`]: crate::ReadStorage::retention

mod backend;
mod config;
mod object_lock;
mod sign;

pub use backend::{S3Storage, MULTIPART_CHUNK, MULTIPART_THRESHOLD};
pub use config::{S3Config, DEFAULT_REGION};
