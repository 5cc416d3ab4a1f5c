//! Log sequence numbers, WAL segment arithmetic and WAL file names.
//!
//! A WAL segment name is `TTTTTTTTXXXXXXXXYYYYYYYY` (24 upper-case hex digits): timeline,
//! then the segment number split into a "log" part and a segment-within-log part, where a log
//! is 4 GiB: `segno = XXXXXXXX * (2^32 / segment_size) + YYYYYYYY`.

use std::fmt;
use std::str::FromStr;

/// A WAL position (`XLogRecPtr`), written `HI/LO` in hex like PostgreSQL does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (hi, lo) = s.split_once('/').ok_or_else(|| {
            format!("'{s}' is not an LSN (expected HI/LO in hex, e.g. 0/3000060)")
        })?;
        let parse = |p: &str| {
            if p.is_empty() || p.len() > 8 {
                return Err(format!("'{s}' is not an LSN (expected HI/LO in hex)"));
            }
            u32::from_str_radix(p, 16)
                .map_err(|_| format!("'{s}' is not an LSN (expected HI/LO in hex)"))
        };
        Ok(Lsn(((parse(hi)? as u64) << 32) | parse(lo)? as u64))
    }
}

impl serde::Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Lsn {
    /// The segment number holding this position.
    pub fn segno(self, seg_size: u64) -> u64 {
        self.0 / seg_size
    }
}

/// Segments per 4 GiB "log file".
fn segs_per_log(seg_size: u64) -> u64 {
    0x1_0000_0000 / seg_size
}

/// The file name of segment `segno` on timeline `tli`.
pub fn segment_name(tli: u32, segno: u64, seg_size: u64) -> String {
    let per = segs_per_log(seg_size);
    format!("{:08X}{:08X}{:08X}", tli, segno / per, segno % per)
}

/// The first LSN after the end of segment `segno`.
pub fn segment_end(segno: u64, seg_size: u64) -> Lsn {
    Lsn((segno + 1) * seg_size)
}

/// What kind of file PostgreSQL hands to `archive_command` / asks from `restore_command`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WalFileKind {
    /// A complete WAL segment.
    Segment,
    /// The last, partial segment of a timeline that was left at promotion (`.partial`).
    Partial,
    /// A timeline history file (`TTTTTTTT.history`).
    History,
    /// A backup history file (`<segment>.<offset>.backup`).
    BackupHistory,
}

/// A parsed WAL file name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalFileName {
    /// Timeline.
    pub tli: u32,
    /// Segment number (0 for history files).
    pub segno: u64,
    /// Kind.
    pub kind: WalFileKind,
    /// The file name as given.
    pub name: String,
}

fn hex_u32(s: &str) -> Option<u32> {
    if s.len() == 8
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        u32::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

/// Parses a WAL file name; `None` for anything that is not a WAL, history or backup-history file
/// (so a caller never builds a storage key from an arbitrary string).
pub fn parse_wal_file_name(name: &str, seg_size: u64) -> Option<WalFileName> {
    let seg = |s: &str| -> Option<(u32, u64)> {
        if s.len() != 24 {
            return None;
        }
        let tli = hex_u32(&s[0..8])?;
        let log = hex_u32(&s[8..16])? as u64;
        let sg = hex_u32(&s[16..24])? as u64;
        let per = segs_per_log(seg_size);
        if sg >= per {
            return None;
        }
        Some((tli, log * per + sg))
    };
    let make = |tli, segno, kind| {
        Some(WalFileName {
            tli,
            segno,
            kind,
            name: name.to_string(),
        })
    };
    if let Some(base) = name.strip_suffix(".history") {
        return make(hex_u32(base)?, 0, WalFileKind::History);
    }
    if let Some(base) = name.strip_suffix(".partial") {
        let (tli, segno) = seg(base)?;
        return make(tli, segno, WalFileKind::Partial);
    }
    if let Some(base) = name.strip_suffix(".backup") {
        let (segpart, offset) = base.split_once('.')?;
        hex_u32(offset)?;
        let (tli, segno) = seg(segpart)?;
        return make(tli, segno, WalFileKind::BackupHistory);
    }
    let (tli, segno) = seg(name)?;
    make(tli, segno, WalFileKind::Segment)
}

/// One line of a timeline history file: timeline `parent` ended (and its child began) at `switch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The ancestor timeline.
    pub parent: u32,
    /// Where the ancestor ended.
    pub switch: Lsn,
}

/// Parses a timeline history file (`parentTLI<TAB>switchpoint<TAB>reason` lines; `#` comments).
pub fn parse_history(text: &str) -> Result<Vec<HistoryEntry>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let tli = parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .ok_or_else(|| format!("bad history line '{line}'"))?;
        let lsn: Lsn = parts
            .next()
            .ok_or_else(|| format!("bad history line '{line}'"))?
            .parse()?;
        out.push(HistoryEntry {
            parent: tli,
            switch: lsn,
        });
    }
    Ok(out)
}

/// Fields of the long page header that starts every WAL segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongPageHeader {
    /// `xlp_magic` (WAL format version of the server).
    pub magic: u16,
    /// Timeline of the first page.
    pub tli: u32,
    /// WAL position of the first page (`xlp_pageaddr`).
    pub page_addr: Lsn,
    /// Database system identifier (`xlp_sysid`).
    pub system_identifier: u64,
    /// WAL segment size (`xlp_seg_size`).
    pub seg_size: u32,
    /// WAL block size (`xlp_xlog_blcksz`).
    pub block_size: u32,
}

/// `XLP_LONG_HEADER` bit of `xlp_info`.
const XLP_LONG_HEADER: u16 = 0x0002;

/// Parses the long page header of a segment (layout of `XLogLongPageHeaderData`: magic u16 @0,
/// info u16 @2, tli u32 @4, pageaddr u64 @8, rem_len u32 @16, padding, sysid u64 @24,
/// seg_size u32 @32, blcksz u32 @36; little-endian on every platform PostgreSQL runs on here).
pub fn parse_long_header(bytes: &[u8]) -> Result<LongPageHeader, String> {
    if bytes.len() < 40 {
        return Err(format!(
            "too short for a WAL segment ({} bytes)",
            bytes.len()
        ));
    }
    let u16at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().expect("2 bytes"));
    let u32at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let u64at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    let info = u16at(2);
    if info & XLP_LONG_HEADER == 0 {
        return Err("the first page has no long header (not a WAL segment?)".into());
    }
    let h = LongPageHeader {
        magic: u16at(0),
        tli: u32at(4),
        page_addr: Lsn(u64at(8)),
        system_identifier: u64at(24),
        seg_size: u32at(32),
        block_size: u32at(36),
    };
    if !h.seg_size.is_power_of_two() || h.seg_size < (1 << 20) || h.block_size == 0 {
        return Err(format!(
            "implausible header (segment size {}, block size {})",
            h.seg_size, h.block_size
        ));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEG: u64 = 16 * 1024 * 1024;

    #[test]
    fn lsn_round_trip() {
        let l: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(l.0, 0x16_B374_D848);
        assert_eq!(l.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn(0));
        assert!("12".parse::<Lsn>().is_err());
        assert!("x/1".parse::<Lsn>().is_err());
    }

    #[test]
    fn segment_names() {
        let l: Lsn = "1/2000028".parse().unwrap();
        let segno = l.segno(SEG);
        assert_eq!(segment_name(1, segno, SEG), "000000010000000100000002");
        let p = parse_wal_file_name("000000010000000100000002", SEG).unwrap();
        assert_eq!((p.tli, p.segno, p.kind), (1, segno, WalFileKind::Segment));
        assert_eq!(segment_end(segno, SEG), "1/3000000".parse().unwrap());
        // 1 GiB segments: 4 per log
        let big = 1 << 30;
        assert_eq!(segment_name(2, 5, big), "000000020000000100000001");
        assert_eq!(
            parse_wal_file_name("000000020000000100000001", big)
                .unwrap()
                .segno,
            5
        );
        assert!(parse_wal_file_name("000000020000000100000004", big).is_none());
    }

    #[test]
    fn other_file_kinds() {
        let h = parse_wal_file_name("00000002.history", SEG).unwrap();
        assert_eq!((h.tli, h.kind), (2, WalFileKind::History));
        let p = parse_wal_file_name("000000010000000000000003.partial", SEG).unwrap();
        assert_eq!((p.segno, p.kind), (3, WalFileKind::Partial));
        let b = parse_wal_file_name("000000010000000000000002.00000028.backup", SEG).unwrap();
        assert_eq!((b.segno, b.kind), (2, WalFileKind::BackupHistory));
        for bad in [
            "",
            "../../etc/passwd",
            "00000001000000000000000g",
            "0000000100000000000000001",
            "RECOVERYXLOG",
            "00000002.HISTORY",
        ] {
            assert!(parse_wal_file_name(bad, SEG).is_none(), "{bad}");
        }
    }

    #[test]
    fn history_files() {
        let text =
            "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-11-01\n";
        let h = parse_history(text).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(
            h[1],
            HistoryEntry {
                parent: 2,
                switch: "0/5000000".parse().unwrap()
            }
        );
    }

    #[test]
    fn long_header() {
        let mut b = vec![0u8; 64];
        b[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
        b[2..4].copy_from_slice(&2u16.to_le_bytes());
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        b[8..16].copy_from_slice(&0x100_0000u64.to_le_bytes());
        b[24..32].copy_from_slice(&7710721833268907259u64.to_le_bytes());
        b[32..36].copy_from_slice(&(SEG as u32).to_le_bytes());
        b[36..40].copy_from_slice(&8192u32.to_le_bytes());
        let h = parse_long_header(&b).unwrap();
        assert_eq!(h.system_identifier, 7710721833268907259);
        assert_eq!(h.seg_size as u64, SEG);
        b[2] = 0;
        assert!(parse_long_header(&b).is_err());
    }
}
