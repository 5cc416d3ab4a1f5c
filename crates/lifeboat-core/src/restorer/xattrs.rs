//! Restoring a node's extended attributes (POSIX ACLs and capabilities among them).
//!
//! Attributes are set after the owner (changing the owner clears `security.capability`) and
//! before the permission bits and times. One the target cannot take — a filesystem without
//! extended attributes, a namespace that needs privileges (`trusted.*`, `security.*` as a
//! non-root user) — is left out with a warning naming the file and the attribute; the
//! restore goes on.

use crate::format::tree::Node;
use std::path::Path;

/// What setting a node's attributes did.
#[derive(Default)]
pub(super) struct Applied {
    /// Attributes set.
    pub set: u64,
    /// Attributes the target refused (each logged as a warning).
    pub refused: u64,
}

/// Sets `node`'s extended attributes on `path` (the entry itself, not a symlink's target).
pub(super) fn apply(path: &Path, node: &Node) -> Applied {
    let mut done = Applied::default();
    for x in &node.xattrs {
        let name = x.os_name();
        let Some(value) = x.raw_value() else {
            tracing::warn!(
                "not restored: extended attribute {} of {}: its stored value is not valid base64",
                x.name,
                path.display()
            );
            done.refused += 1;
            continue;
        };
        match xattr::set(path, &name, &value) {
            Ok(()) => done.set += 1,
            Err(e) => {
                let why = match e.raw_os_error() {
                    Some(libc::ENOTSUP) => {
                        "the target filesystem does not support it (mount it with xattr/acl \
                         support, or restore with --no-xattrs)"
                            .to_string()
                    }
                    Some(libc::EPERM) | Some(libc::EACCES) => {
                        format!("setting it needs more privileges ({e}); restore as root")
                    }
                    _ => e.to_string(),
                };
                tracing::warn!(
                    "not restored: extended attribute {} of {}: {why}",
                    x.name,
                    path.display()
                );
                done.refused += 1;
            }
        }
    }
    done
}
