//! Sparse files on backup: holes are found with `SEEK_DATA`/`SEEK_HOLE` and never read.
//!
//! A file whose allocated blocks cover less than its size has holes. Its data extents are
//! read and chunked as usual; each hole of at least [`MIN_HOLE`] bytes is recorded as
//! references to all-zero blobs (the chunker's maximum size, then one remainder blob), which
//! are stored once per repository. The tree format needs nothing new: a reader sees ordinary
//! content ids, and a sparse restore leaves every all-zero blob as a hole again
//! (`restorer/restore.rs`). Smaller holes are read as zeros with the surrounding data.
//!
//! On filesystems without hole reporting `SEEK_DATA` fails (or reports one extent covering
//! the whole file) and the file is read whole, as any other.

use super::BlobSaver;
use crate::format::blob::BlobId;
use crate::format::config::ChunkerParams;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::io::AsRawFd;

/// Holes shorter than this are read as zeros (smaller gains than the cost of a chunk cut).
pub(super) const MIN_HOLE: u64 = 1 << 20;

/// True when `meta` says the file has fewer allocated bytes than its size: worth mapping.
pub(super) fn looks_sparse(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.len() >= MIN_HOLE && meta.blocks().saturating_mul(512) + MIN_HOLE <= meta.len()
}

/// One piece of a file in order: bytes to read, or a hole to record without reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Extent {
    /// `len` bytes of data at `start`.
    Data { start: u64, len: u64 },
    /// `len` bytes that read as zeros and are not allocated.
    Hole { len: u64 },
}

/// Maps `file` (of `size` bytes) into data extents and holes of at least [`MIN_HOLE`] bytes.
/// `None` when the filesystem cannot report holes or the file has none worth skipping. The
/// file's offset is back at its start afterwards (the caller may read it whole).
pub(super) fn map(file: &File, size: u64) -> Option<Vec<Extent>> {
    let extents = map_extents(file, size);
    // SEEK_DATA/SEEK_HOLE moved the offset; a file read whole must be read from its start.
    if seek(file.as_raw_fd(), 0, libc::SEEK_SET).is_err() {
        return None;
    }
    extents
}

fn map_extents(file: &File, size: u64) -> Option<Vec<Extent>> {
    let fd = file.as_raw_fd();
    let mut holes: Vec<(u64, u64)> = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        let data = match seek(fd, pos, libc::SEEK_DATA) {
            Ok(d) => d.min(size),
            // ENXIO: no data at or after `pos`, the rest is a hole.
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => size,
            Err(_) => return None,
        };
        if data > pos {
            holes.push((pos, data));
        }
        if data >= size {
            break;
        }
        pos = match seek(fd, data, libc::SEEK_HOLE) {
            Ok(h) => h.min(size),
            Err(_) => return None,
        };
    }
    let mut extents = Vec::new();
    let mut cursor = 0u64;
    for (start, end) in holes.into_iter().filter(|(s, e)| e - s >= MIN_HOLE) {
        if start > cursor {
            extents.push(Extent::Data {
                start: cursor,
                len: start - cursor,
            });
        }
        extents.push(Extent::Hole { len: end - start });
        cursor = end;
    }
    if extents.is_empty() {
        return None;
    }
    if cursor < size {
        extents.push(Extent::Data {
            start: cursor,
            len: size - cursor,
        });
    }
    Some(extents)
}

/// Stores a mapped file: data extents through the chunker, holes as all-zero blobs.
/// Returns the content ids, the file's size and the bytes actually read. A file that shrank
/// while it was read ends at what was read.
pub(super) fn save(
    saver: &BlobSaver<'_>,
    file: &mut File,
    extents: &[Extent],
    params: &ChunkerParams,
) -> std::io::Result<(Vec<BlobId>, u64, u64)> {
    let mut ids = Vec::new();
    let (mut size, mut read) = (0u64, 0u64);
    for extent in extents {
        match *extent {
            Extent::Data { start, len } => {
                file.seek(SeekFrom::Start(start))?;
                let (more, n) = saver.save_stream((&mut *file).take(len), params, Some(len))?;
                ids.extend(more);
                size += n;
                read += n;
                if n < len {
                    break;
                }
            }
            Extent::Hole { len } => {
                let block = params.max_size as u64;
                let full = saver
                    .zero_blob(block as usize)
                    .map_err(std::io::Error::other)?;
                ids.extend(std::iter::repeat_n(full, (len / block) as usize));
                if len % block > 0 {
                    ids.push(
                        saver
                            .zero_blob((len % block) as usize)
                            .map_err(std::io::Error::other)?,
                    );
                }
                size += len;
            }
        }
    }
    Ok((ids, size, read))
}

fn seek(fd: i32, offset: u64, whence: i32) -> std::io::Result<u64> {
    // SAFETY: lseek on a file descriptor owned by a live `File`; no memory is passed.
    let r = unsafe { libc::lseek(fd, offset as libc::off_t, whence) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn a_file_with_one_byte_in_a_large_hole_maps_to_hole_data_hole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::create(&path).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(b"x", 32 << 20).unwrap();
        let f = File::open(&path).unwrap();
        let ext = map(&f, 64 << 20).expect("the test filesystem reports holes");
        let total: u64 = ext
            .iter()
            .map(|e| match e {
                Extent::Data { len, .. } | Extent::Hole { len } => *len,
            })
            .sum();
        assert_eq!(total, 64 << 20);
        assert!(matches!(ext[0], Extent::Hole { .. }), "{ext:?}");
        let data: Vec<_> = ext
            .iter()
            .filter_map(|e| match e {
                Extent::Data { start, len } => Some((*start, *len)),
                _ => None,
            })
            .collect();
        assert_eq!(data.len(), 1, "{ext:?}");
        assert!(data[0].0 <= 32 << 20 && data[0].0 + data[0].1 > 32 << 20);
        assert!(data[0].1 < 2 << 20);
    }

    #[test]
    fn a_file_whose_holes_are_all_small_maps_to_nothing_and_reads_from_its_start() {
        // Regression: mapping moved the file offset to the last extent, so a file read whole
        // after a mapping that found only small holes was read from there: its tail only.
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::create(&path).unwrap();
        let size: u64 = 64 << 20;
        f.set_len(size).unwrap();
        for off in (0..size).step_by(768 << 10) {
            f.write_all_at(b"x", off).unwrap();
        }
        let mut f = File::open(&path).unwrap();
        assert_eq!(map(&f, size), None);
        let mut all = Vec::new();
        f.read_to_end(&mut all).unwrap();
        assert_eq!(all.len() as u64, size);
        assert_eq!(all[0], b'x');
        assert_eq!(all[768 << 10], b'x');
    }

    #[test]
    fn a_dense_file_maps_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 3 << 20]).unwrap();
        assert_eq!(map(&File::open(&path).unwrap(), 3 << 20), None);
    }
}
