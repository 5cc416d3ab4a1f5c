//! Watching a tar stream go by: captures a few small members (`backup_label`,
//! `backup_manifest`, the head of `global/pg_control`) from pg_basebackup's output while it
//! is streamed into the repository, without buffering or re-reading the stream.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Members captured so far, by path in the archive.
pub type Captured = Arc<Mutex<HashMap<String, Vec<u8>>>>;

enum State {
    /// Collecting a 512-byte header.
    Header { buf: Vec<u8> },
    /// Inside a member's data (plus padding): `remaining` bytes, capturing up to `capture` bytes.
    Data {
        name: String,
        remaining: u64,
        padding: u64,
        capture: usize,
    },
    /// Collecting padding.
    Padding { remaining: u64 },
    /// End of archive or unparseable: stop looking.
    Done,
}

/// A reader that passes bytes through unchanged and captures selected members.
pub struct TarWatcher<R> {
    inner: R,
    state: State,
    wanted: Vec<(String, usize)>,
    captured: Captured,
}

impl<R: Read> TarWatcher<R> {
    /// Watches `inner`, capturing each member named in `wanted` up to its byte limit.
    pub fn new(inner: R, wanted: &[(&str, usize)]) -> (Self, Captured) {
        let captured: Captured = Arc::default();
        (
            TarWatcher {
                inner,
                state: State::Header {
                    buf: Vec::with_capacity(512),
                },
                wanted: wanted.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
                captured: captured.clone(),
            },
            captured,
        )
    }

    fn observe(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.state {
                State::Done => return,
                State::Header { buf } => {
                    let take = (512 - buf.len()).min(data.len());
                    buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if buf.len() == 512 {
                        let header = std::mem::take(buf);
                        self.state = self.parse_header(&header);
                    }
                }
                State::Data {
                    name,
                    remaining,
                    padding,
                    capture,
                } => {
                    let take = (*remaining).min(data.len() as u64) as usize;
                    if *capture > 0 {
                        let c = take.min(*capture);
                        self.captured
                            .lock()
                            .expect("captured")
                            .entry(name.clone())
                            .or_default()
                            .extend_from_slice(&data[..c]);
                        *capture -= c;
                    }
                    *remaining -= take as u64;
                    data = &data[take..];
                    if *remaining == 0 {
                        let p = *padding;
                        self.state = if p > 0 {
                            State::Padding { remaining: p }
                        } else {
                            State::Header {
                                buf: Vec::with_capacity(512),
                            }
                        };
                    }
                }
                State::Padding { remaining } => {
                    let take = (*remaining).min(data.len() as u64);
                    *remaining -= take;
                    data = &data[take as usize..];
                    if *remaining == 0 {
                        self.state = State::Header {
                            buf: Vec::with_capacity(512),
                        };
                    }
                }
            }
        }
    }

    fn parse_header(&self, h: &[u8]) -> State {
        if h.iter().all(|&b| b == 0) {
            // End-of-archive blocks (or padding): keep reading headers, pg_basebackup may
            // append members (the manifest) only after its own end marker in some versions.
            return State::Header {
                buf: Vec::with_capacity(512),
            };
        }
        let field = |a: usize, b: usize| {
            let f = &h[a..b];
            let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let mut name = field(0, 100);
        if &h[257..262] == b"ustar" {
            let prefix = field(345, 500);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let size = match parse_size(&h[124..136]) {
            Some(s) => s,
            None => return State::Done,
        };
        let name = name.trim_start_matches("./").to_string();
        let capture = self
            .wanted
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
            .unwrap_or(0);
        let padding = (512 - size % 512) % 512;
        if size == 0 {
            return State::Header {
                buf: Vec::with_capacity(512),
            };
        }
        State::Data {
            name,
            remaining: size,
            padding,
            capture,
        }
    }
}

fn parse_size(f: &[u8]) -> Option<u64> {
    if f[0] & 0x80 != 0 {
        // base-256 (GNU) for large members
        let mut v: u64 = (f[0] & 0x7f) as u64;
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s: String = f
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

impl<R: Read> Read for TarWatcher<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_members_in_odd_sized_reads() {
        let mut b = tar::Builder::new(Vec::new());
        let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        };
        add(&mut b, "base/1/1234", &vec![1u8; 70_000]);
        add(
            &mut b,
            "backup_label",
            b"START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n",
        );
        add(&mut b, "global/pg_control", &vec![9u8; 8192]);
        add(&mut b, "empty", b"");
        add(&mut b, "backup_manifest", b"{\"x\":1}");
        let bytes = b.into_inner().unwrap();
        struct Odd<'a>(&'a [u8], usize);
        impl Read for Odd<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = (self.1 % 700 + 1).min(buf.len()).min(self.0.len());
                self.1 += 37;
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let (mut w, cap) = TarWatcher::new(
            Odd(&bytes, 0),
            &[
                ("backup_label", 1 << 20),
                ("global/pg_control", 8),
                ("backup_manifest", 1 << 20),
            ],
        );
        let mut out = Vec::new();
        w.read_to_end(&mut out).unwrap();
        assert_eq!(out, bytes);
        let cap = cap.lock().unwrap();
        assert!(String::from_utf8_lossy(&cap["backup_label"]).starts_with("START WAL"));
        assert_eq!(cap["global/pg_control"], vec![9u8; 8]);
        assert_eq!(cap["backup_manifest"], b"{\"x\":1}");
        assert!(!cap.contains_key("base/1/1234"));
    }
}
