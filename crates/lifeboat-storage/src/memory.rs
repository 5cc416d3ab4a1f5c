//! The in-memory backend: for tests and for the conformance suite's reference behaviour.

use crate::{
    validate_key, Capabilities, ErrorKind, ObjectInfo, ReadStorage, Result, StorageError,
    WriteOptions, WriteStorage,
};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// A repository held in process memory; everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    objects: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn not_found(&self, op: &'static str, key: &str) -> StorageError {
        StorageError::new(
            ErrorKind::NotFound,
            op,
            self.location(),
            key,
            "no such object",
        )
    }
}

impl ReadStorage for MemoryStorage {
    fn location(&self) -> String {
        "memory:".to_string()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            atomic_create: true,
            object_lock: false,
            ranged_read: true,
        }
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        validate_key(key)?;
        let map = self.objects.read().expect("memory storage lock");
        map.get(key)
            .cloned()
            .ok_or_else(|| self.not_found("read", key))
    }

    fn read_range(&self, key: &str, offset: u64, length: u64) -> Result<Vec<u8>> {
        validate_key(key)?;
        let map = self.objects.read().expect("memory storage lock");
        let data = map.get(key).ok_or_else(|| self.not_found("read", key))?;
        let end = offset.saturating_add(length);
        if end > data.len() as u64 {
            return Err(StorageError::new(
                ErrorKind::ShortRead,
                "read",
                self.location(),
                key,
                format!("range {offset}+{length} beyond size {}", data.len()),
            ));
        }
        Ok(data[offset as usize..end as usize].to_vec())
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let map = self.objects.read().expect("memory storage lock");
        Ok(map
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| ObjectInfo {
                key: k.clone(),
                size: v.len() as u64,
            })
            .collect())
    }

    fn stat(&self, key: &str) -> Result<ObjectInfo> {
        validate_key(key)?;
        let map = self.objects.read().expect("memory storage lock");
        let data = map.get(key).ok_or_else(|| self.not_found("stat", key))?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size: data.len() as u64,
        })
    }
}

impl WriteStorage for MemoryStorage {
    fn write(&self, key: &str, data: &[u8], options: &WriteOptions) -> Result<()> {
        validate_key(key)?;
        if options.retain_until.is_some() {
            return Err(StorageError::new(
                ErrorKind::Unsupported,
                "write",
                self.location(),
                key,
                "the memory backend has no object lock",
            ));
        }
        let mut map = self.objects.write().expect("memory storage lock");
        if options.create_new && map.contains_key(key) {
            return Err(StorageError::new(
                ErrorKind::AlreadyExists,
                "write",
                self.location(),
                key,
                "object exists",
            ));
        }
        map.insert(key.to_string(), data.to_vec());
        Ok(())
    }

    fn remove(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.objects
            .write()
            .expect("memory storage lock")
            .remove(key);
        Ok(())
    }
}
