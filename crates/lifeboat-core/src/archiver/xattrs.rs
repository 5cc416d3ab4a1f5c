//! Reading a node's extended attributes (and with them POSIX ACLs and file capabilities).

use crate::format::tree::Xattr;
use std::path::Path;

/// The extended attributes of `path` itself (a symbolic link's own, not its target's), sorted
/// by name. A filesystem without extended attributes has none; an attribute removed between
/// listing and reading is left out.
pub(super) fn read(path: &Path) -> std::io::Result<Vec<Xattr>> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names {
        match xattr::get(path, &name) {
            Ok(Some(value)) => out.push(Xattr::new(&name, &value)),
            Ok(None) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort();
    Ok(out)
}

/// True for "this filesystem (or this kind of file) has no extended attributes".
pub(crate) fn unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP))
}
