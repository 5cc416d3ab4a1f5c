//! Named restore points in archived WAL.
//!
//! `pg_create_restore_point(name)` writes one `XLOG_RESTORE_POINT` record: a 24-byte record
//! header (`xl_tot_len` = 98, `xl_info` = 0x70, `xl_rmid` = 0 for the XLOG resource manager,
//! CRC-32C), a short main-data header (block id 255, length 72) and `xl_restore_point`
//! (`rp_time`, 8 bytes; `rp_name`, 64 bytes, NUL-padded). Records start 8-byte aligned; one may
//! continue on the next page after that page's header (`XLP_FIRST_IS_CONTRECORD`).
//!
//! The scanner checks every aligned position whose first four bytes read 98, gathers the record
//! across a page boundary if need be, and accepts it only when the header fields and the CRC
//! match. A position inside another record's data could only pass by carrying a whole valid
//! restore-point record (a full-page image of a page holding WAL bytes); callers take the
//! *first* position of a name, so such a copy, which always comes after the record it copies,
//! never changes the result. A restore point whose record runs into the next segment is not
//! found (the planner then falls back to the oldest base backup, as for an unknown name).

use super::list::ArchivedFile;
use super::WalArchive;
use crate::error::Result;
use crate::lsn::{parse_long_header, Lsn, WalFileKind};

/// `xlp_info` bit: the page starts with the rest of a record from the previous page.
const XLP_FIRST_IS_CONTRECORD: u16 = 0x0001;
/// `xlp_info` bit: the page has the long header (first page of a segment).
const XLP_LONG_HEADER: u16 = 0x0002;
/// Page header sizes (short, long), both already 8-byte aligned.
const SHORT_HEADER: usize = 24;
const LONG_HEADER: usize = 40;
/// `xl_tot_len` of a restore-point record.
const RECORD_LEN: usize = 98;
/// `XLOG_RESTORE_POINT` (the resource manager's bits of `xl_info`).
const XLOG_RESTORE_POINT: u8 = 0x70;
/// Length of `rp_name` (`MAXFNAMELEN`).
const NAME_LEN: usize = 64;

/// A restore point found in WAL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundRestorePoint {
    /// The name given to `pg_create_restore_point`.
    pub name: String,
    /// Where its record starts.
    pub lsn: Lsn,
}

impl WalArchive {
    /// The first restore point named `name` in the archived segments of system `sysid` from
    /// segment number `from_segno` on (`files` as [`WalArchive::list`] gives them), with the
    /// name of the segment it is in. Reads and scans the segments in order until it is found.
    pub fn first_restore_point(
        &self,
        sysid: u64,
        files: &[ArchivedFile],
        name: &str,
        from_segno: u64,
    ) -> Result<Option<(Lsn, String)>> {
        let mut segments: Vec<&ArchivedFile> = files
            .iter()
            .filter(|f| f.file.kind == WalFileKind::Segment && f.file.segno >= from_segno)
            .collect();
        segments.sort_by_key(|f| (f.file.segno, f.file.tli));
        for f in segments {
            let (_, data) = self.read_file(sysid, &f.file.name)?;
            if let Some(p) = scan_segment(&data).into_iter().find(|p| p.name == name) {
                return Ok(Some((p.lsn, f.file.name.clone())));
            }
        }
        Ok(None)
    }
}

/// The restore points recorded in one WAL segment, in WAL order. A file that is not a WAL
/// segment (no long page header) has none.
pub fn scan_segment(seg: &[u8]) -> Vec<FoundRestorePoint> {
    let Ok(header) = parse_long_header(seg) else {
        return Vec::new();
    };
    let page = header.block_size as usize;
    if page < LONG_HEADER + 8 || !page.is_multiple_of(8) {
        return Vec::new();
    }
    let start = header.page_addr.0;
    let mut found = Vec::new();
    let mut p = LONG_HEADER;
    while p + 4 <= seg.len() {
        let in_page = p % page;
        let header_len = if p < page { LONG_HEADER } else { SHORT_HEADER };
        if in_page < header_len {
            p += header_len - in_page;
            continue;
        }
        if u32::from_le_bytes(seg[p..p + 4].try_into().expect("4 bytes")) == RECORD_LEN as u32 {
            if let Some(name) = gather(seg, page, p).as_deref().and_then(restore_point_name) {
                found.push(FoundRestorePoint {
                    name,
                    lsn: Lsn(start + p as u64),
                });
            }
        }
        p += 8;
    }
    found
}

/// The record's bytes starting at `p`, across page headers; `None` when it runs past the
/// segment or the next page does not continue it.
fn gather(seg: &[u8], page: usize, mut p: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(RECORD_LEN);
    while out.len() < RECORD_LEN {
        if p >= seg.len() {
            return None;
        }
        if p.is_multiple_of(page) {
            let info = u16::from_le_bytes(seg.get(p + 2..p + 4)?.try_into().ok()?);
            if info & XLP_FIRST_IS_CONTRECORD == 0 {
                return None;
            }
            p += if info & XLP_LONG_HEADER != 0 {
                LONG_HEADER
            } else {
                SHORT_HEADER
            };
            continue;
        }
        let take = (RECORD_LEN - out.len()).min(page - p % page);
        out.extend_from_slice(seg.get(p..p + take)?);
        p += take;
    }
    Some(out)
}

/// The name in a restore-point record, if `rec` is one with a valid CRC.
fn restore_point_name(rec: &[u8]) -> Option<String> {
    if rec.len() != RECORD_LEN
        || rec[16] & 0xF0 != XLOG_RESTORE_POINT
        || rec[17] != 0
        || rec[24] != 255
        || rec[25] as usize != 8 + NAME_LEN
    {
        return None;
    }
    let crc = crc32c::crc32c_append(crc32c::crc32c(&rec[24..]), &rec[..20]);
    if crc != u32::from_le_bytes(rec[20..24].try_into().expect("4 bytes")) {
        return None;
    }
    let name = &rec[34..34 + NAME_LEN];
    let end = name.iter().position(|b| *b == 0).unwrap_or(NAME_LEN);
    Some(String::from_utf8_lossy(&name[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 8192;
    const SEG: usize = 4 * PAGE;
    const SEG_START: u64 = 0x0300_0000;

    /// A segment of `SEG` bytes with page headers, filler records of 8 bytes, and restore-point
    /// records at the given offsets (each offset 8-aligned, outside page headers).
    fn segment(points: &[(usize, &str)]) -> Vec<u8> {
        // The logical record stream: positions are raw offsets; headers are written after.
        let mut seg = vec![0u8; SEG];
        let mut cont = [false; SEG / PAGE];
        for (off, name) in points {
            let rec = record(name);
            let mut p = *off;
            let mut i = 0;
            while i < rec.len() && p < SEG {
                if p.is_multiple_of(PAGE) {
                    cont[p / PAGE] = true;
                    p += SHORT_HEADER;
                    continue;
                }
                seg[p] = rec[i];
                p += 1;
                i += 1;
            }
        }
        for (n, c) in cont.iter().enumerate() {
            let h = &mut seg[n * PAGE..];
            h[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
            let mut info = if n == 0 { XLP_LONG_HEADER } else { 0 };
            if *c {
                info |= XLP_FIRST_IS_CONTRECORD;
            }
            h[2..4].copy_from_slice(&info.to_le_bytes());
            h[4..8].copy_from_slice(&1u32.to_le_bytes());
            h[8..16].copy_from_slice(&(SEG_START + (n * PAGE) as u64).to_le_bytes());
            if n == 0 {
                h[16..20].fill(0);
                h[24..32].copy_from_slice(&7u64.to_le_bytes());
                h[32..36].copy_from_slice(&(16u32 << 20).to_le_bytes());
                h[36..40].copy_from_slice(&(PAGE as u32).to_le_bytes());
            }
        }
        seg
    }

    fn record(name: &str) -> Vec<u8> {
        let mut r = vec![0u8; RECORD_LEN];
        r[0..4].copy_from_slice(&(RECORD_LEN as u32).to_le_bytes());
        r[16] = XLOG_RESTORE_POINT;
        r[24] = 255;
        r[25] = 72;
        r[26..34].copy_from_slice(&123u64.to_le_bytes());
        r[34..34 + name.len()].copy_from_slice(name.as_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&r[24..]), &r[..20]);
        r[20..24].copy_from_slice(&crc.to_le_bytes());
        r
    }

    #[test]
    fn restore_points_are_found_with_their_positions() {
        let seg = segment(&[(LONG_HEADER + 64, "before-migration"), (PAGE + 800, "b")]);
        let found = scan_segment(&seg);
        assert_eq!(
            found,
            vec![
                FoundRestorePoint {
                    name: "before-migration".into(),
                    lsn: Lsn(SEG_START + LONG_HEADER as u64 + 64),
                },
                FoundRestorePoint {
                    name: "b".into(),
                    lsn: Lsn(SEG_START + PAGE as u64 + 800),
                },
            ]
        );
    }

    #[test]
    fn a_record_split_by_a_page_boundary_is_found() {
        // Header split (starts 16 bytes before the page end) and data split (48 bytes before).
        let seg = segment(&[
            (2 * PAGE - 16, "split-header"),
            (3 * PAGE - 48, "split-data"),
        ]);
        let names: Vec<String> = scan_segment(&seg).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["split-header", "split-data"]);
    }

    proptest::proptest! {
        #[test]
        fn records_anywhere_are_found_and_damage_never_panics(
            slots in proptest::collection::btree_set(0usize..(SEG - 2 * PAGE) / 256, 0..6),
            flips in proptest::collection::vec((0usize..SEG, 0u8..8), 0..4),
        ) {
            // Records at 256-byte steps (never overlapping), some across page boundaries.
            let points: Vec<(usize, String)> = slots
                .iter()
                .map(|s| (LONG_HEADER + s * 256 + 8 * (s % 3), format!("p{s}")))
                .filter(|(off, _)| off % PAGE >= SHORT_HEADER)
                .collect();
            let refs: Vec<(usize, &str)> = points.iter().map(|(o, n)| (*o, n.as_str())).collect();
            let seg = segment(&refs);
            let names: Vec<String> = scan_segment(&seg).into_iter().map(|f| f.name).collect();
            let want: Vec<String> = points.iter().map(|(_, n)| n.clone()).collect();
            proptest::prop_assert_eq!(names, want);
            let mut damaged = seg.clone();
            for (at, bit) in flips {
                damaged[at] ^= 1 << bit;
            }
            let _ = scan_segment(&damaged);
            let _ = scan_segment(&damaged[..flips_len(&damaged)]);
        }
    }

    /// A length to cut a damaged segment to (anything from empty to whole).
    fn flips_len(seg: &[u8]) -> usize {
        seg.iter().take(64).map(|b| *b as usize).sum::<usize>() % (seg.len() + 1)
    }

    #[test]
    fn damaged_or_foreign_records_are_not_restore_points() {
        let mut seg = segment(&[(LONG_HEADER + 64, "x")]);
        seg[LONG_HEADER + 64 + 40] ^= 1; // a name byte: the CRC no longer matches
        assert!(scan_segment(&seg).is_empty());
        let mut seg = segment(&[(LONG_HEADER + 64, "x")]);
        seg[LONG_HEADER + 64 + 17] = 10; // another resource manager
        assert!(scan_segment(&seg).is_empty());
        assert!(scan_segment(b"not a WAL segment").is_empty());
        // A record that runs off the end of the segment is not guessed at.
        let seg = segment(&[(SEG - 40, "tail")]);
        assert!(scan_segment(&seg[..SEG]).is_empty());
    }
}
