//! The local-filesystem backend.
//!
//! Durability: every write goes to a temporary file in the destination directory
//! (`.tmp-<random>`), is fsynced, then renamed over the key (or hard-linked for `create_new`,
//! which fails atomically when the key exists), and the directory is fsynced. A crash leaves at
//! most a stray `.tmp-*` file, which [`ReadStorage::list`] never reports. Objects of 1 MiB and
//! more (packs) are written around the page cache where the filesystem allows it
//! ([`crate::direct`]).

use crate::{
    validate_key, Capabilities, ErrorKind, ObjectInfo, ReadStorage, Result, StorageError,
    WriteOptions, WriteStorage,
};
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A repository stored in a local directory.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// A backend rooted at `root`. The directory need not exist yet (`init` creates it).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStorage { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn err(&self, op: &'static str, key: &str, e: std::io::Error) -> StorageError {
        StorageError::from_io(op, &self.location(), key, e)
    }

    fn write_inner(&self, key: &str, path: &Path, data: &[u8], create_new: bool) -> Result<()> {
        let dir = path.parent().expect("key has a parent directory");
        if let Err(e) = fs::create_dir_all(dir) {
            return Err(self.err("write", key, e));
        }
        let tmp = dir.join(format!(".tmp-{:016x}", rand::random::<u64>()));
        let result = (|| -> std::io::Result<()> {
            let f = crate::direct::create_file(&tmp, data)?;
            f.sync_all()?;
            drop(f);
            if create_new {
                fs::hard_link(&tmp, path)?;
                fs::remove_file(&tmp)?;
            } else {
                fs::rename(&tmp, path)?;
            }
            File::open(dir)?.sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(self.err("write", key, e));
        }
        Ok(())
    }
}

impl ReadStorage for LocalStorage {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_create: true,
            object_lock: false,
            ranged_read: true,
        }
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        fs::read(&path).map_err(|e| self.err("read", key, e))
    }

    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        let mut f = File::open(&path).map_err(|e| self.err("read", key, e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| self.err("read", key, e))?;
        let mut buf = vec![0u8; length as usize];
        f.read_exact(&mut buf)
            .map_err(|e| self.err("read", key, e))?;
        Ok(buf)
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        // Walk from the deepest directory the prefix names completely; a partial last
        // component (`data/a` of `data/ab/...`, `data` of `dataset`) is matched by name.
        let base = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let start = if base.is_empty() {
            self.root.clone()
        } else {
            self.path(base)?
        };
        let mut stack = vec![(start, base.to_string())];
        while let Some((dir, rel)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => continue,
                Err(e) => return Err(self.err("list", prefix, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| self.err("list", prefix, e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with(".tmp-") {
                    continue;
                }
                let key = if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{rel}/{name}")
                };
                let ft = entry.file_type().map_err(|e| self.err("list", &key, e))?;
                if ft.is_dir() {
                    let as_dir = format!("{key}/");
                    if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                        stack.push((entry.path(), key));
                    }
                } else if ft.is_file() {
                    let size = match entry.metadata() {
                        Ok(m) => m.len(),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(self.err("list", &key, e)),
                    };
                    if key.starts_with(prefix) {
                        out.push(ObjectInfo { key, size });
                    }
                }
            }
        }
        Ok(out)
    }

    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        let path = self.path(key)?;
        let meta = fs::metadata(&path).map_err(|e| self.err("stat", key, e))?;
        if !meta.is_file() {
            return Err(StorageError::new(
                ErrorKind::NotFound,
                "stat",
                self.location(),
                key,
                "not a regular file",
            ));
        }
        Ok(ObjectInfo {
            key: key.to_string(),
            size: meta.len(),
        })
    }
}

impl WriteStorage for LocalStorage {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        if options.retain_until.is_some() {
            return Err(StorageError::new(
                ErrorKind::Unsupported,
                "write",
                self.location(),
                key,
                "the local backend has no object lock; use an S3 repository with object lock",
            ));
        }
        let path = self.path(key)?;
        self.write_inner(key, &path, data, options.create_new)
    }

    fn remove(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err("remove", key, e)),
        }
    }
}
