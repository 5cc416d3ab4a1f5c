//! [`CloudStorage`]: the storage contract on an OpenDAL operator of an object store without
//! object lock (Google Cloud Storage, Azure Blob Storage), and the mapping of OpenDAL errors to
//! [`ErrorKind`]s with advice that names the provider's own settings.

use crate::dal::{self, DalBackend};
use crate::runtime::IoRuntime;
use crate::{
    validate_key, Capabilities, ErrorKind, ObjectInfo, ReadStorage, Result, StorageError,
    WriteOptions, WriteStorage,
};
use opendal::{ErrorKind as OdKind, Operator};
use std::fmt;

/// What differs between the providers: names and advice in messages.
#[derive(Clone, Debug)]
pub(crate) struct Provider {
    /// `Google Cloud Storage`.
    pub name: &'static str,
    /// `bucket` or `container`.
    pub container_word: &'static str,
    /// Where the credentials come from (for "no credentials" and "refused" messages).
    pub credentials_hint: &'static str,
}

/// A repository in a GCS bucket or an Azure Blob container (see [`crate::cloud`]).
pub struct CloudStorage {
    op: Operator,
    rt: IoRuntime,
    location: String,
    container: String,
    endpoint: String,
    provider: Provider,
    atomic_create: bool,
}

impl fmt::Debug for CloudStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudStorage")
            .field("location", &self.location)
            .field("atomic_create", &self.atomic_create)
            .finish()
    }
}

impl CloudStorage {
    /// Wraps a built operator. `conditional_writes`: the service refuses a create-if-absent
    /// write atomically (else `create_new` checks first, racily, and says so in its
    /// capabilities).
    pub(crate) fn new(
        op: Operator,
        rt: IoRuntime,
        location: String,
        container: String,
        endpoint: String,
        provider: Provider,
        conditional_writes: bool,
    ) -> CloudStorage {
        let atomic_create = conditional_writes && op.info().capability().write_with_if_not_exists;
        CloudStorage {
            op,
            rt,
            location,
            container,
            endpoint,
            provider,
            atomic_create,
        }
    }
}

impl dal::DalBackend for CloudStorage {
    fn dal(&self) -> (&Operator, &IoRuntime) {
        (&self.op, &self.rt)
    }

    fn dal_location(&self) -> String {
        self.location.clone()
    }

    fn dal_err(
        &self,
        op: &'static str,
        key: &str,
        e: opendal::Error,
        create_new: bool,
    ) -> StorageError {
        let text = e.to_string();
        let (p, w, c, ep) = (
            &self.provider,
            self.provider.container_word,
            &self.container,
            &self.endpoint,
        );
        let lower = text.to_ascii_lowercase();
        let (kind, advice) = match e.kind() {
            OdKind::NotFound
                if lower.contains("containernotfound")
                    || lower.contains("bucket not found")
                    || lower.contains("no such bucket")
                    || lower.contains("the specified bucket does not exist") =>
            {
                (
                    ErrorKind::NotFound,
                    format!(
                        "{w} '{c}' does not exist at {ep}: check its name and the endpoint, or create it"
                    ),
                )
            }
            OdKind::NotFound => (ErrorKind::NotFound, "no such object".to_string()),
            _ if text.contains("failed to load signing credential") => (
                ErrorKind::PermissionDenied,
                format!("no credentials for {} {w} '{c}': {}", p.name, p.credentials_hint),
            ),
            OdKind::AlreadyExists => (ErrorKind::AlreadyExists, "object exists".to_string()),
            OdKind::ConditionNotMatch if create_new => {
                (ErrorKind::AlreadyExists, "object exists".to_string())
            }
            OdKind::PermissionDenied => (
                ErrorKind::PermissionDenied,
                format!(
                    "access to {w} '{c}' at {ep} was refused: check the credentials ({}) and \
                     their rights on the {w}",
                    p.credentials_hint
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
            _ if e.is_temporary() || text.contains("http response got too little data") => (
                ErrorKind::Transient,
                format!(
                    "request to {ep} ({w} '{c}') failed: check that the endpoint is right and reachable"
                ),
            ),
            _ => (
                ErrorKind::Other,
                format!(
                    "request to {} {w} '{c}' at {ep} failed: check the endpoint, the {w} name and \
                     the credentials ({})",
                    p.name, p.credentials_hint
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

impl ReadStorage for CloudStorage {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_create: self.atomic_create,
            // Object lock is S3-only (docs/design/storage.md).
            object_lock: false,
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
}

impl WriteStorage for CloudStorage {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        validate_key(key)?;
        if options.retain_until.is_some() {
            return Err(StorageError::new(
                ErrorKind::Unsupported,
                "write",
                self.location.clone(),
                key,
                format!(
                    "object lock (per-object retention) is supported on S3 only, not on {}",
                    self.provider.name
                ),
            ));
        }
        let create_new = options.create_new;
        if create_new && !self.atomic_create {
            dal::refuse_existing(self, key)?;
        }
        // One write call: a single upload the service acknowledges once the object is stored
        // (and visible only whole).
        let fut = self
            .op
            .write_with(key, data.to_vec())
            .if_not_exists(create_new && self.atomic_create);
        self.rt
            .block_on(fut)
            .map(|_| ())
            .map_err(|e| self.dal_err("write", key, e, create_new))
    }

    fn remove(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        match self.rt.block_on(self.op.delete(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == OdKind::NotFound => Ok(()),
            Err(e) => Err(self.dal_err("remove", key, e, false)),
        }
    }
}
