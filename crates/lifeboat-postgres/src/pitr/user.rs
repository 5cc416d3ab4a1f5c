//! The operating-system user a restored server runs as when lifeboat runs as root
//! (PostgreSQL refuses root): looking it up and handing the restored files over to it.

use crate::error::{PgError, Result};
use std::path::Path;

/// A user to run the server as: name, uid, gid.
#[derive(Clone, Debug)]
pub struct RunAs {
    /// User name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks up a user in the system's user database.
pub(crate) fn lookup_user(name: &str) -> Option<RunAs> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam takes a NUL-terminated name and returns a pointer to static storage or
    // NULL; the fields are copied out before any other call could overwrite it.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if pw.is_null() {
            return None;
        }
        Some(RunAs {
            name: name.to_string(),
            uid: (*pw).pw_uid,
            gid: (*pw).pw_gid,
        })
    }
}

/// Gives everything below `path` (not following links) to `user`.
pub(crate) fn chown_tree(path: &Path, user: &RunAs) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| PgError::io("reading", path, e))?;
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
        .map_err(|e| PgError::io("changing the owner of", path, e))?;
    if meta.is_dir() {
        for e in std::fs::read_dir(path).map_err(|e| PgError::io("reading", path, e))? {
            let e = e.map_err(|e| PgError::io("reading", path, e))?;
            chown_tree(&e.path(), user)?;
        }
    }
    Ok(())
}
