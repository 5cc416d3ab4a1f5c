//! `restore`: writes a snapshot (or parts of it) into a directory, pack by pack.

use super::walk::walk;
use crate::error::{Error, Result};
use crate::format::blob::{self, BlobId};
use crate::format::pack::pack_key;
use crate::format::snapshot::{SnapshotEntry, StreamInfo};
use crate::format::tree::{Node, NodeKind};
use crate::parallel::parallel_map;
use crate::repo::Repository;
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Restore options.
#[derive(Clone, Debug, Default)]
pub struct RestoreOptions {
    /// Target directory.
    pub target: PathBuf,
    /// Only restore these snapshot paths (and what is below them).
    pub includes: Vec<String>,
    /// Allow a non-empty target (existing files are overwritten).
    pub overwrite: bool,
    /// `(snapshot directory, destination)`: that directory's content is written to the
    /// destination (which must be missing or empty) instead of below `target`.
    pub redirects: Vec<(String, PathBuf)>,
    /// Stops the restore between packs (what was written so far stays in the target).
    pub cancel: crate::cancel::CancelToken,
    /// Write blocks of zeros out instead of leaving holes (by default a file's all-zero
    /// blobs are not written: the file was sized first, so they stay holes, as in the source
    /// of a sparse file).
    pub no_sparse: bool,
    /// Do not restore extended attributes (nor the ACLs and capabilities kept in them).
    pub no_xattrs: bool,
}

/// What a restore did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RestoreSummary {
    /// Regular files restored.
    pub files: u64,
    /// Directories restored.
    pub dirs: u64,
    /// Symlinks restored.
    pub symlinks: u64,
    /// FIFOs, sockets and devices restored.
    pub specials: u64,
    /// Files restored as hard links to another restored file of their link group.
    pub hardlinks: u64,
    /// Bytes of all-zero blobs left as holes instead of written (sparse restore).
    pub sparse_bytes: u64,
    /// Devices left out because creating them needs root (each logged as a warning).
    pub specials_skipped: u64,
    /// Extended attributes set (ACLs and capabilities included).
    pub xattrs: u64,
    /// Extended attributes the target refused (each logged as a warning naming the file).
    pub xattrs_skipped: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Wall-clock seconds.
    pub duration_seconds: f64,
}

struct FileJob {
    path: PathBuf,
    display: String,
}

fn included(path: &Path, includes: &[PathBuf]) -> (bool, bool) {
    if includes.is_empty() {
        return (true, true);
    }
    let mut take = false;
    let mut descend = false;
    for inc in includes {
        if path.starts_with(inc) {
            take = true;
            descend = true;
        } else if inc.starts_with(path) {
            descend = true;
        }
    }
    (take, descend)
}

/// Restores a snapshot (or parts of it) into a directory.
pub fn restore(
    repo: &Repository,
    snapshot: &SnapshotEntry,
    opts: &RestoreOptions,
    bytes_done: Arc<AtomicU64>,
) -> Result<RestoreSummary> {
    let started = std::time::Instant::now();
    let target = &opts.target;
    match std::fs::read_dir(target) {
        Ok(mut rd) => {
            if rd.next().is_some() && !opts.overwrite {
                return Err(Error::TargetNotEmpty(target.clone()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(target)
                .map_err(|e| Error::io("creating restore target", target, e))?;
        }
        Err(e) => return Err(Error::io("opening restore target", target, e)),
    }
    let includes: Vec<PathBuf> = opts
        .includes
        .iter()
        .map(|i| Path::new("/").join(i.trim_start_matches('/')))
        .collect();
    let redirects: Vec<(PathBuf, PathBuf)> = opts
        .redirects
        .iter()
        .map(|(from, to)| {
            (
                Path::new("/").join(from.trim_start_matches('/')),
                to.clone(),
            )
        })
        .collect();
    for (_, to) in &redirects {
        if std::fs::read_dir(to).is_ok_and(|mut rd| rd.next().is_some()) && !opts.overwrite {
            return Err(Error::TargetNotEmpty(to.clone()));
        }
    }
    let index = repo.load_index()?;
    let mut summary = RestoreSummary::default();
    let mut dirs: Vec<(PathBuf, Node)> = Vec::new();
    let mut files: Vec<(FileJob, Node)> = Vec::new();
    let mut matched = includes.is_empty();
    // The first restored path of each hard-link group.
    let mut linked: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk(
        repo,
        &index,
        &snapshot.snapshot.tree,
        Path::new("/"),
        &mut |path, node| {
            let (take, descend) = included(path, &includes);
            if !take {
                return Ok(descend && node.kind() == NodeKind::Dir);
            }
            matched = true;
            let rel = path.strip_prefix("/").expect("absolute");
            let dest = redirects
                .iter()
                .find_map(|(from, to)| path.strip_prefix(from).ok().map(|r| to.join(r)))
                .unwrap_or_else(|| target.join(rel));
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io("creating directory", parent, e))?;
            }
            match node.kind() {
                NodeKind::Dir => {
                    match std::fs::create_dir(&dest) {
                        Ok(()) => {}
                        Err(e)
                            if e.kind() == std::io::ErrorKind::AlreadyExists && dest.is_dir() => {}
                        Err(e) => return Err(Error::io("creating directory", &dest, e)),
                    }
                    summary.dirs += 1;
                    dirs.push((dest, node.clone()));
                }
                NodeKind::Symlink => {
                    if opts.overwrite {
                        let _ = std::fs::remove_file(&dest);
                    }
                    std::os::unix::fs::symlink(node.os_link_target(), &dest)
                        .map_err(|e| Error::io("creating symlink", &dest, e))?;
                    restore_owner(&dest, node, true)?;
                    set_xattrs(&dest, node, opts, &mut summary);
                    let mt = mtime(node);
                    filetime::set_symlink_file_times(&dest, mt, mt)
                        .map_err(|e| Error::io("setting times of", &dest, e))?;
                    summary.symlinks += 1;
                }
                kind if kind.is_special() => {
                    if opts.overwrite {
                        let _ = std::fs::remove_file(&dest);
                    }
                    match make_node(&dest, node) {
                        Ok(()) => {
                            restore_owner(&dest, node, true)?;
                            set_xattrs(&dest, node, opts, &mut summary);
                            // After the owner: chown clears set-user-ID and set-group-ID.
                            std::fs::set_permissions(
                                &dest,
                                std::os::unix::fs::PermissionsExt::from_mode(node.mode & 0o7777),
                            )
                            .map_err(|e| Error::io("setting mode of", &dest, e))?;
                            let mt = mtime(node);
                            filetime::set_symlink_file_times(&dest, mt, mt)
                                .map_err(|e| Error::io("setting times of", &dest, e))?;
                            summary.specials += 1;
                        }
                        // Devices need CAP_MKNOD: without it the node is left out, loudly.
                        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                            tracing::warn!(
                                "not restored: {} ({} {}): creating devices needs root (CAP_MKNOD)",
                                dest.display(),
                                kind.name(),
                                node.rdev
                            );
                            summary.specials_skipped += 1;
                        }
                        Err(e) => return Err(Error::io("creating", &dest, e)),
                    }
                }
                _ if node.link_group().is_some_and(|g| linked.contains_key(&g)) => {
                    // Another link of a file this restore wrote: link it, write nothing.
                    let first = &linked[&node.link_group().expect("checked")];
                    if opts.overwrite {
                        let _ = std::fs::remove_file(&dest);
                    }
                    std::fs::hard_link(first, &dest)
                        .map_err(|e| Error::io("creating hard link", &dest, e))?;
                    summary.hardlinks += 1;
                }
                _ => {
                    if let Some(g) = node.link_group() {
                        linked.insert(g, dest.clone());
                    }
                    let f = std::fs::File::create(&dest)
                        .map_err(|e| Error::io("creating file", &dest, e))?;
                    f.set_len(node.size)
                        .map_err(|e| Error::io("sizing file", &dest, e))?;
                    summary.files += 1;
                    summary.bytes += node.size;
                    files.push((
                        FileJob {
                            display: path.display().to_string(),
                            path: dest,
                        },
                        node.clone(),
                    ));
                }
            }
            Ok(true)
        },
    )?;
    if !matched {
        return Err(Error::PathNotInSnapshot {
            path: opts.includes.join(", "),
            snapshot: snapshot.short_id().to_string(),
        });
    }

    // Plan: for each pack, the blobs to read and where each goes.
    struct Target {
        file: usize,
        offset: u64,
    }
    let mut plan: HashMap<u32, HashMap<BlobId, Vec<Target>>> = HashMap::new();
    for (fi, (job, node)) in files.iter().enumerate() {
        let mut offset = 0u64;
        for id in &node.content {
            let loc = index.get(id).ok_or_else(|| Error::MissingBlob {
                blob: id.to_hex(),
                referenced_by: format!("file {}", job.display),
            })?;
            plan.entry(loc.pack)
                .or_default()
                .entry(*id)
                .or_default()
                .push(Target { file: fi, offset });
            offset += loc.raw_length as u64;
        }
        if offset != node.size {
            return Err(Error::corrupt(
                format!("file {} in snapshot {}", job.display, snapshot.short_id()),
                format!(
                    "content blobs add up to {offset} bytes but the recorded size is {}",
                    node.size
                ),
            ));
        }
    }
    let packs: Vec<(u32, HashMap<BlobId, Vec<Target>>)> = plan.into_iter().collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
        * 2;
    let sparse_bytes = AtomicU64::new(0);
    let results = parallel_map(&packs, threads, |(pack, blobs)| -> Result<()> {
        opts.cancel.check("restore")?;
        let pack_id = &index.packs[*pack as usize].id;
        let key = pack_key(pack_id);
        let locs: Vec<_> = blobs
            .keys()
            .map(|id| (*id, *index.get(id).expect("planned")))
            .collect();
        let start = locs.iter().map(|(_, l)| l.offset as u64).min().unwrap_or(0);
        let end = locs
            .iter()
            .map(|(_, l)| l.offset as u64 + l.length as u64)
            .max()
            .unwrap_or(0);
        let data = repo
            .storage()
            .read_range(&key, start, end - start)
            .map_err(|e| {
                let first = &blobs.values().next().expect("non-empty")[0];
                Error::corrupt(
                    format!("pack {pack_id}"),
                    format!(
                        "cannot read it while restoring {}: {e}",
                        files[first.file].0.display
                    ),
                )
            })?;
        for (id, loc) in locs {
            let s = (loc.offset as u64 - start) as usize;
            let stored = &data[s..s + loc.length as usize];
            let targets = &blobs[&id];
            let plain = blob::decode(repo.keys(), repo, &id, stored, loc.raw_length as usize, &format!("pack {pack_id}"))
                .map_err(|e| {
                    let file = &files[targets[0].file].0.display;
                    Error::corrupt(
                        format!("pack {pack_id}"),
                        format!("blob {} of file {file} is damaged ({e}); the file was not restored correctly", id.to_hex()),
                    )
                })?;
            if !opts.no_sparse && is_zero(&plain) {
                // The file was sized with set_len: this range already reads as zeros.
                let n = plain.len() as u64 * targets.len() as u64;
                bytes_done.fetch_add(n, Ordering::Relaxed);
                sparse_bytes.fetch_add(n, Ordering::Relaxed);
                continue;
            }
            for t in targets {
                let path = &files[t.file].0.path;
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io("opening", path, e))?;
                f.write_all_at(&plain, t.offset)
                    .map_err(|e| Error::io("writing", path, e))?;
                bytes_done.fetch_add(plain.len() as u64, Ordering::Relaxed);
            }
        }
        Ok(())
    });
    for r in results {
        r?;
    }
    for (job, node) in &files {
        restore_owner(&job.path, node, false)?;
        set_xattrs(&job.path, node, opts, &mut summary);
        std::fs::set_permissions(
            &job.path,
            std::os::unix::fs::PermissionsExt::from_mode(node.mode),
        )
        .map_err(|e| Error::io("setting mode of", &job.path, e))?;
        let mt = mtime(node);
        filetime::set_file_times(&job.path, mt, mt)
            .map_err(|e| Error::io("setting times of", &job.path, e))?;
    }
    for (path, node) in dirs.iter().rev() {
        restore_owner(path, node, false)?;
        set_xattrs(path, node, opts, &mut summary);
        std::fs::set_permissions(
            path,
            std::os::unix::fs::PermissionsExt::from_mode(node.mode),
        )
        .map_err(|e| Error::io("setting mode of", path, e))?;
        let mt = mtime(node);
        filetime::set_file_times(path, mt, mt)
            .map_err(|e| Error::io("setting times of", path, e))?;
    }
    if let Some(s) = &snapshot.snapshot.stream {
        verify_restored_stream(target, s)?;
    }
    summary.sparse_bytes = sparse_bytes.load(Ordering::Relaxed);
    summary.duration_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Re-reads a restored stream and compares its size and SHA-256 with the snapshot's record.
fn verify_restored_stream(target: &Path, s: &StreamInfo) -> Result<()> {
    use sha2::Digest;
    let path = target.join(&s.name);
    if !path.exists() {
        return Ok(()); // excluded by --include
    }
    let mut f = std::fs::File::open(&path).map_err(|e| Error::io("verifying", &path, e))?;
    let mut hasher = sha2::Sha256::new();
    let n = std::io::copy(&mut f, &mut hasher).map_err(|e| Error::io("verifying", &path, e))?;
    let got = hex::encode(hasher.finalize());
    if got != s.sha256 || n != s.size {
        return Err(Error::VerificationFailed {
            what: format!("restored stream {}", path.display()),
            detail: format!(
                "recorded sha256 {} ({} bytes), got {got} ({n} bytes)",
                s.sha256, s.size
            ),
        });
    }
    Ok(())
}

/// True when every byte of `b` is zero.
fn is_zero(b: &[u8]) -> bool {
    let mut words = b.chunks_exact(16);
    words.all(|w| u128::from_ne_bytes(w.try_into().expect("16 bytes")) == 0)
        && words.remainder().iter().all(|&x| x == 0)
}

/// Creates the FIFO, socket or device `node` at `path` (its mode is set by the caller).
fn make_node(path: &Path, node: &Node) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let kind = match node.kind() {
        NodeKind::Fifo => libc::S_IFIFO,
        NodeKind::Socket => libc::S_IFSOCK,
        NodeKind::CharDevice => libc::S_IFCHR,
        NodeKind::BlockDevice => libc::S_IFBLK,
        _ => return Err(std::io::Error::other("not a special file")),
    };
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("a NUL byte in the path"))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe {
        libc::mknod(
            c.as_ptr(),
            kind | (node.mode & 0o7777),
            node.rdev as libc::dev_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // mknod applied the umask; the caller sets the recorded bits once the owner is set.
    Ok(())
}

/// Sets `node`'s extended attributes on `path` unless the restore leaves them out.
fn set_xattrs(path: &Path, node: &Node, opts: &RestoreOptions, summary: &mut RestoreSummary) {
    if opts.no_xattrs || node.xattrs.is_empty() {
        return;
    }
    let done = super::xattrs::apply(path, node);
    summary.xattrs += done.set;
    summary.xattrs_skipped += done.refused;
}

fn mtime(node: &Node) -> filetime::FileTime {
    filetime::FileTime::from_unix_time(
        node.mtime_ns.div_euclid(1_000_000_000),
        node.mtime_ns.rem_euclid(1_000_000_000) as u32,
    )
}

fn restore_owner(path: &Path, node: &Node, symlink: bool) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Invalid(format!("path {} contains a NUL byte", path.display())))?;
    // SAFETY: c is a valid NUL-terminated path.
    let rc = unsafe {
        if symlink {
            libc::lchown(c.as_ptr(), node.uid, node.gid)
        } else {
            libc::chown(c.as_ptr(), node.uid, node.gid)
        }
    };
    if rc != 0 {
        return Err(Error::io(
            "changing owner of",
            path,
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
