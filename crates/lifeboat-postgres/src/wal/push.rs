//! `wal-push`: archiving one WAL file (checked against its name, the cluster binding and any
//! identical copy already archived), and pushing ready segments ahead in parallel.

use super::binding::{check_binding, DEFAULT_CLUSTER};
use super::object::{encode_object, object_key, ObjectHeader, HEADER_LEN};
use super::WalArchive;
use crate::error::{PgError, Result};
use crate::lsn::{parse_long_header, parse_wal_file_name, WalFileKind};
use lifeboat_core::error::Hint;
use lifeboat_storage::{ErrorKind, WriteOptions};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// What a push did.
#[derive(Clone, Debug, Serialize)]
pub struct PushOutcome {
    /// The WAL file name.
    pub name: String,
    /// The storage key.
    pub key: String,
    /// False when an identical copy was already archived.
    pub stored: bool,
    /// Plaintext bytes.
    pub bytes: u64,
    /// Bytes written to storage (0 when already archived).
    pub stored_bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
}

/// Options of a push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Cluster name.
    pub cluster: String,
    /// Expected system identifier (refuse others).
    pub system_id: Option<u64>,
    /// zstd level.
    pub compression_level: i32,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            cluster: DEFAULT_CLUSTER.into(),
            system_id: None,
            compression_level: 1,
        }
    }
}

impl WalArchive {
    /// Archives the WAL file at `path` (as handed over by `archive_command`'s `%p`).
    /// Returns only after the object is durably stored (or an identical copy was found).
    pub fn push(&self, path: &Path, opts: &PushOptions) -> Result<PushOutcome> {
        let started = Instant::now();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| PgError::Invalid(format!("{} is not a WAL file path", path.display())))?
            .to_string();
        self.require_writable("wal-push")?;
        let data = read_wal(path).map_err(|e| PgError::io("reading WAL file", path, e))?;
        // The segment size and system id come from the segment header when there is one,
        // else from the binding (history and backup-history files carry neither).
        let header = if name.ends_with(".history") || name.ends_with(".backup") {
            None
        } else {
            Some(parse_long_header(&data).map_err(|e| {
                PgError::Invalid(format!("{} is not a WAL segment: {e}", path.display()))
            })?)
        };
        let binding = self.binding(&opts.cluster)?;
        let (sysid, seg_size) = match (&header, &binding) {
            (Some(h), _) => (h.system_identifier, h.seg_size as u64),
            (None, Some(b)) => (b.sysid(), b.wal_segment_size),
            (None, None) => {
                // History files may arrive before any segment (a freshly promoted clone):
                // archive_command runs in the data directory, whose pg_control names the system.
                let sysid = opts
                    .system_id
                    .or_else(|| crate::tools::read_control_system_id(Path::new(".")))
                    .ok_or_else(|| {
                        PgError::guided(
                            format!(
                                "cannot archive {name}: cluster '{}' has no archived segment or base backup yet, and there is no pg_control in the working directory, so its system identifier is unknown",
                                opts.cluster
                            ),
                            Hint::SetOption {
                                option: "system_id",
                                value: None,
                            },
                        )
                    })?;
                (sysid, 16 << 20)
            }
        };
        let file = parse_wal_file_name(&name, seg_size).ok_or_else(|| {
            PgError::Invalid(format!(
                "'{name}' is not a WAL, history or backup history file name"
            ))
        })?;
        if let Some(expected) = opts.system_id {
            if expected != sysid {
                return Err(PgError::guided(
                    format!(
                        "refusing WAL file {name}: it belongs to database system {sysid}, not to the system identifier given ({expected})"
                    ),
                    Hint::DropOption {
                        option: "system_id",
                    },
                ));
            }
        }
        if let Some(h) = &header {
            if file.kind == WalFileKind::Segment || file.kind == WalFileKind::Partial {
                let expect_addr = file.segno * seg_size;
                if h.page_addr.0 != expect_addr {
                    return Err(PgError::Invalid(format!(
                        "{name}: its header says it starts at {}, but the name means {}; refusing a renamed or recycled file",
                        h.page_addr,
                        crate::lsn::Lsn(expect_addr)
                    )));
                }
                if data.len() as u64 != seg_size && file.kind == WalFileKind::Segment {
                    return Err(PgError::Invalid(format!(
                        "{name} is {} bytes but segments of this cluster are {seg_size}; refusing a truncated segment",
                        data.len()
                    )));
                }
            }
        }
        match binding {
            Some(b) => {
                check_binding(b, &opts.cluster, sysid, seg_size)?;
            }
            None => {
                self.bind(&opts.cluster, sysid, seg_size)?;
            }
        }
        let key = object_key(sysid, file.tli, &name);
        let bytes = encode_object(&self.keys, &key, &data, opts.compression_level);
        match self
            .storage
            .write(&key, &bytes, &WriteOptions::create_new())
        {
            Ok(()) => Ok(PushOutcome {
                name,
                key,
                stored: true,
                bytes: data.len() as u64,
                stored_bytes: bytes.len() as u64,
                seconds: started.elapsed().as_secs_f64(),
            }),
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                let existing = self.storage.read_range(&key, 0, HEADER_LEN as u64)?;
                let h = ObjectHeader::decode(&existing, &key)?;
                if h.content_id == self.keys.content_id(&data) && h.length == data.len() as u64 {
                    Ok(PushOutcome {
                        name,
                        key,
                        stored: false,
                        bytes: data.len() as u64,
                        stored_bytes: 0,
                        seconds: started.elapsed().as_secs_f64(),
                    })
                } else {
                    Err(PgError::WalConflict {
                        name,
                        archived_at: h.archived_at_string(),
                    })
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Pushes `path`, and meanwhile up to `ahead` further complete segments that PostgreSQL has
    /// marked ready for archiving (`archive_status/*.ready` next to `path`), in parallel. The
    /// later `wal-push` calls for those find them archived and only compare content ids, so a
    /// burst of WAL is archived at the pace of parallel uploads. Returns the outcome for
    /// `path` (an error there is the call's error) and the names pushed ahead; a failure of an
    /// ahead push is ignored (PostgreSQL will ask for that file and get the error then).
    pub fn push_with_ahead(
        &self,
        path: &Path,
        opts: &PushOptions,
        ahead: usize,
    ) -> Result<(PushOutcome, Vec<String>)> {
        let candidates = if ahead == 0 {
            Vec::new()
        } else {
            ready_after(path, ahead)
        };
        if candidates.is_empty() {
            return Ok((self.push(path, opts)?, Vec::new()));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::thread::scope(|s| {
            let handles: Vec<_> = candidates
                .iter()
                .map(|name| {
                    let p = dir.join(name);
                    s.spawn(move || self.push(&p, opts))
                })
                .collect();
            let own = self.push(path, opts);
            let mut pushed = Vec::new();
            for (name, h) in candidates.iter().zip(handles) {
                match h.join() {
                    Ok(Ok(o)) if o.stored => pushed.push(name.clone()),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::debug!("pushing {name} ahead failed: {e}"),
                    Err(_) => tracing::debug!("pushing {name} ahead panicked"),
                }
            }
            Ok((own?, pushed))
        })
    }
}

/// A WAL file's bytes: mapped (read-only, pre-faulted in one call) when it is a segment-sized
/// file, read into memory otherwise. Mapping saves zeroing and copying 16 MiB per push.
enum WalBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for WalBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            WalBytes::Mapped(m) => m,
            WalBytes::Read(v) => v,
        }
    }
}

fn read_wal(path: &Path) -> std::io::Result<WalBytes> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len >= 1 << 20 {
        // SAFETY: the mapping is read-only, and PostgreSQL neither changes nor truncates a WAL
        // file it handed to archive_command until the command returns.
        if let Ok(m) = unsafe { memmap2::MmapOptions::new().populate().map(&file) } {
            return Ok(WalBytes::Mapped(m));
        }
    }
    let mut v = Vec::with_capacity(len as usize);
    file.read_to_end(&mut v)?;
    Ok(WalBytes::Read(v))
}

/// Up to `n` segment names after `path`'s that have a `.ready` status file, oldest first.
fn ready_after(path: &Path, n: usize) -> Vec<String> {
    let Some(name) = path.file_name().and_then(|f| f.to_str()) else {
        return Vec::new();
    };
    let Some(me) = parse_wal_file_name(name, 16 << 20) else {
        return Vec::new();
    };
    if me.kind != WalFileKind::Segment {
        return Vec::new();
    }
    let status = path
        .parent()
        .unwrap_or(Path::new("."))
        .join("archive_status");
    let Ok(rd) = std::fs::read_dir(status) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let f = e.file_name().to_str()?.strip_suffix(".ready")?.to_string();
            let w = parse_wal_file_name(&f, 16 << 20)?;
            (w.kind == WalFileKind::Segment && w.tli == me.tli && w.name > me.name).then_some(f)
        })
        .collect();
    names.sort();
    names.truncate(n);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_segments_after_the_current_one() {
        let d = tempfile::tempdir().unwrap();
        let st = d.path().join("archive_status");
        std::fs::create_dir(&st).unwrap();
        for n in [
            "000000010000000000000003.ready",
            "000000010000000000000005.ready",
            "000000010000000000000006.ready",
            "000000010000000000000007.ready",
            "000000010000000000000004.done",
            "000000020000000000000009.ready",
            "00000002.history.ready",
        ] {
            std::fs::write(st.join(n), b"").unwrap();
        }
        let me = d.path().join("000000010000000000000004");
        assert_eq!(
            ready_after(&me, 2),
            vec!["000000010000000000000005", "000000010000000000000006"]
        );
        assert!(ready_after(&d.path().join("00000002.history"), 2).is_empty());
        assert!(ready_after(&d.path().join("x").join("000000010000000000000004"), 2).is_empty());
    }
}
