//! Object operations shared by the OpenDAL-backed backends ([`crate::s3`], [`crate::cloud`]):
//! ranged reads with their end-of-object rules, listing, `stat` and the emulated create-new
//! check. Each backend supplies its operator, runtime and error wording ([`DalBackend`]); the
//! rules themselves live here once.

use crate::runtime::IoRuntime;
use crate::{validate_key, ErrorKind, ObjectInfo, Result, StorageError};
use opendal::ErrorKind as OdKind;
use std::future::IntoFuture;

/// What an OpenDAL-backed backend lends the shared operations.
pub(crate) trait DalBackend {
    /// The operator for plain requests and the runtime to block on.
    fn dal(&self) -> (&opendal::Operator, &IoRuntime);
    /// The backend's location, for errors.
    fn dal_location(&self) -> String;
    /// Classifies an OpenDAL error in the backend's own words.
    fn dal_err(
        &self,
        op: &'static str,
        key: &str,
        e: opendal::Error,
        create_new: bool,
    ) -> StorageError;
}

/// Runs a read-only request, once more when the first attempt failed before any answer came
/// back ("error sending request": typically a pooled keep-alive connection the server had just
/// closed). Reads are idempotent, so this is safe; writes are never repeated here (the
/// [`crate::layers::Retry`] layer decides about those).
pub(crate) fn read_only<T, F, Fut>(b: &impl DalBackend, f: F) -> opendal::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = opendal::Result<T>> + Send,
    T: Send,
{
    let (_, rt) = b.dal();
    match rt.block_on(f()) {
        Err(e) if e.is_temporary() && format!("{e:?}").contains("error sending request") => {
            rt.block_on(f())
        }
        other => other,
    }
}

/// The error for a range that reaches past the end of the object.
pub(crate) fn short_read<B: DalBackend>(
    b: &B,
    key: &str,
    offset: u64,
    length: u64,
    got: usize,
) -> StorageError {
    StorageError::new(
        ErrorKind::ShortRead,
        "read",
        b.dal_location(),
        key,
        format!("range {offset}+{length} beyond the end of the object (got {got} bytes)"),
    )
}

/// `length` bytes at `offset`; a range past the end is [`ErrorKind::ShortRead`].
pub(crate) fn read_range<B: DalBackend>(
    b: &B,
    key: &str,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>> {
    validate_key(key)?;
    let (op, _) = b.dal();
    let end = offset
        .checked_add(length)
        .ok_or_else(|| short_read(b, key, offset, length, 0))?;
    if length == 0 {
        // An empty HTTP range is not expressible; check the bounds with a HEAD.
        let info = stat(b, key)?;
        if offset > info.size {
            return Err(short_read(b, key, offset, length, 0));
        }
        return Ok(Vec::new());
    }
    let data = match read_only(b, || op.read_with(key).range(offset..end).into_future()) {
        Ok(data) => data,
        Err(e) if matches!(e.kind(), OdKind::NotFound | OdKind::RangeNotSatisfied) => {
            return Err(b.dal_err("read", key, e, false))
        }
        // HTTP 416 (Range Not Satisfiable) that OpenDAL reports as "unexpected".
        Err(e) if e.to_string().contains("status: 416") => {
            return Err(short_read(b, key, offset, length, 0))
        }
        Err(e) => {
            // A range past the end may also come back as "reader got too little data";
            // tell that apart from real failures by the object's size.
            return match stat(b, key) {
                Ok(info) if info.size < end => Err(short_read(
                    b,
                    key,
                    offset,
                    length,
                    info.size.saturating_sub(offset) as usize,
                )),
                _ => Err(b.dal_err("read", key, e, false)),
            };
        }
    };
    if (data.len() as u64) < length {
        return Err(short_read(b, key, offset, length, data.len()));
    }
    Ok(data.to_vec())
}

/// Every object under `prefix` (directory markers and keys outside it skipped).
pub(crate) fn list<B: DalBackend>(b: &B, prefix: &str) -> Result<Vec<ObjectInfo>> {
    let (op, _) = b.dal();
    let entries = read_only(b, || op.list_with(prefix).recursive(true).into_future())
        .map_err(|e| b.dal_err("list", prefix, e, false))?;
    Ok(entries
        .into_iter()
        .filter(|entry| {
            let path = entry.path();
            !path.ends_with('/') && path.starts_with(prefix) && entry.metadata().is_file()
        })
        .map(|entry| ObjectInfo {
            key: entry.path().to_string(),
            size: entry.metadata().content_length(),
        })
        .collect())
}

/// The object's size.
pub(crate) fn stat<B: DalBackend>(b: &B, key: &str) -> Result<ObjectInfo> {
    validate_key(key)?;
    let (op, _) = b.dal();
    let meta = read_only(b, || op.stat(key)).map_err(|e| b.dal_err("stat", key, e, false))?;
    Ok(ObjectInfo {
        key: key.to_string(),
        size: meta.content_length(),
    })
}

/// The check-then-write half of `create_new` where the service has no conditional write:
/// [`ErrorKind::AlreadyExists`] when `key` exists.
pub(crate) fn refuse_existing<B: DalBackend>(b: &B, key: &str) -> Result<()> {
    match stat(b, key) {
        Ok(_) => Err(StorageError::new(
            ErrorKind::AlreadyExists,
            "write",
            b.dal_location(),
            key,
            "object exists",
        )),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
