//! zstd for blobs: one-shot compression with zstd's large-input parameters, optionally with a
//! raw-content prefix (the repository's compression dictionary, [`crate::format::dict`]).
//!
//! Two measured choices (docs/benchmarks.md, `examples/prefix_probe.rs`):
//! - Parameters: a blob's size is known, and zstd would then pick its small-input tables, which
//!   compress 128 KiB chunks 3–6 % worse. We set the parameters zstd uses for inputs of unknown
//!   size explicitly, and compress in one shot (no copy into a streaming window).
//! - Prefix: every blob starts with an empty history. A prefix gives it one; zstd matches into a
//!   prefix at full speed only when the prefix sits in memory right before the input (one
//!   segment), so the input is copied behind the prefix first. A prefix elsewhere in memory, or
//!   a prepared dictionary (attached, copied or reloaded), made compression 60–80 % slower.
//!
//! The calls go through `zstd-sys` (the C library the `zstd` crate wraps) because the safe
//! wrappers tie a prefix's lifetime to the context's, which a per-thread reusable context
//! cannot express.

use crate::format::plain::Plain;
use std::cell::RefCell;
use std::ptr::NonNull;
use zstd::zstd_safe::zstd_sys as z;

struct Cctx(NonNull<z::ZSTD_CCtx>);

impl Drop for Cctx {
    fn drop(&mut self) {
        // SAFETY: the pointer came from ZSTD_createCCtx and is freed once, here.
        unsafe { z::ZSTD_freeCCtx(self.0.as_ptr()) };
    }
}

struct Dctx(NonNull<z::ZSTD_DCtx>);

impl Drop for Dctx {
    fn drop(&mut self) {
        // SAFETY: the pointer came from ZSTD_createDCtx and is freed once, here.
        unsafe { z::ZSTD_freeDCtx(self.0.as_ptr()) };
    }
}

thread_local! {
    static CCTX: RefCell<Option<(i32, Cctx)>> = const { RefCell::new(None) };
    static DCTX: RefCell<Option<Dctx>> = const { RefCell::new(None) };
    static JOINED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn is_error(code: usize) -> bool {
    // SAFETY: ZSTD_isError only inspects the code.
    unsafe { z::ZSTD_isError(code) != 0 }
}

fn error_name(code: usize) -> String {
    // SAFETY: ZSTD_getErrorName returns a pointer to a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(z::ZSTD_getErrorName(code)) }
        .to_string_lossy()
        .into_owned()
}

/// A compression context at `level` with the large-input parameters and bare frames (no
/// content size, checksum or dictionary id: the AEAD and the blob id authenticate content).
fn new_cctx(level: i32) -> Option<Cctx> {
    use z::ZSTD_cParameter::*;
    // SAFETY: creating a context has no preconditions; null means allocation failure.
    let cctx = Cctx(NonNull::new(unsafe { z::ZSTD_createCCtx() })?);
    // SAFETY: ZSTD_getCParams is a pure function; estimatedSrcSize 0 means "unknown".
    let p = unsafe { z::ZSTD_getCParams(level, 0, 0) };
    let settings = [
        (ZSTD_c_compressionLevel, level),
        (ZSTD_c_windowLog, p.windowLog as i32),
        (ZSTD_c_chainLog, p.chainLog as i32),
        (ZSTD_c_hashLog, p.hashLog as i32),
        (ZSTD_c_searchLog, p.searchLog as i32),
        (ZSTD_c_minMatch, p.minMatch as i32),
        (ZSTD_c_targetLength, p.targetLength as i32),
        (ZSTD_c_strategy, p.strategy as i32),
        (ZSTD_c_contentSizeFlag, 0),
        (ZSTD_c_checksumFlag, 0),
        (ZSTD_c_dictIDFlag, 0),
    ];
    for (param, value) in settings {
        // SAFETY: the context is live; setting a parameter only validates and stores it.
        if is_error(unsafe { z::ZSTD_CCtx_setParameter(cctx.0.as_ptr(), param, value) }) {
            return None;
        }
    }
    Some(cctx)
}

/// Compresses `plaintext` at `level`, with `prefix` as history when it is not empty.
/// `None` when zstd fails (the caller then stores the blob uncompressed).
pub fn compress(plaintext: &[u8], level: i32, prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    compress_into(&mut out, plaintext, level, prefix).then_some(out)
}

/// Like [`compress`], appending the frame to `out`; false (and `out` unchanged) when zstd
/// fails.
pub fn compress_into(out: &mut Vec<u8>, plaintext: &[u8], level: i32, prefix: &[u8]) -> bool {
    if prefix.is_empty() {
        return frame_into(out, plaintext, level, None);
    }
    JOINED.with(|j| {
        let mut joined = j.borrow_mut();
        joined.clear();
        joined.extend_from_slice(prefix);
        joined.extend_from_slice(plaintext);
        let (p, src) = joined.split_at(prefix.len());
        frame_into(out, src, level, Some(p))
    })
}

/// Like [`compress_into`] for plaintext with room in front ([`Plain`]): when the room holds
/// `prefix`, the prefix is written there and the plaintext is compressed where it is, without
/// copying it behind the prefix. The room's bytes are scratch afterwards.
pub fn compress_plain_into(
    out: &mut Vec<u8>,
    plain: &mut Plain,
    level: i32,
    prefix: &[u8],
) -> bool {
    if prefix.is_empty() || plain.room() < prefix.len() {
        return compress_into(out, plain.bytes(), level, prefix);
    }
    let (buf, at) = plain.parts_mut();
    buf[at - prefix.len()..at].copy_from_slice(prefix);
    let (head, src) = buf.split_at(at);
    frame_into(out, src, level, Some(&head[at - prefix.len()..]))
}

/// Appends one frame of `src` to `out`, with `prefix` as history. Callers pass a prefix that
/// ends where `src` starts in memory: zstd matches into such a prefix at full speed (one
/// segment); a prefix elsewhere would be correct but slow.
fn frame_into(out: &mut Vec<u8>, src: &[u8], level: i32, prefix: Option<&[u8]>) -> bool {
    CCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(l, _)| *l) != Some(level) {
            match new_cctx(level) {
                Some(c) => *slot = Some((level, c)),
                None => return false,
            }
        }
        let Some((_, cctx)) = slot.as_ref() else {
            return false;
        };
        let cctx = cctx.0.as_ptr();
        // SAFETY: compressBound is a pure function.
        let bound = unsafe { z::ZSTD_compressBound(src.len()) };
        let start = out.len();
        out.reserve(bound);
        // SAFETY: `cctx` is this thread's live context. The prefix is referenced only for this
        // one frame (zstd drops the reference when the frame ends) and `src` and `prefix`
        // outlive the call; `out` has `bound` spare bytes after `start`, the most
        // ZSTD_compress2 writes.
        let n = unsafe {
            z::ZSTD_CCtx_reset(cctx, z::ZSTD_ResetDirective::ZSTD_reset_session_only);
            if let Some(p) = prefix {
                if is_error(z::ZSTD_CCtx_refPrefix(cctx, p.as_ptr().cast(), p.len())) {
                    return false;
                }
            }
            z::ZSTD_compress2(
                cctx,
                out.as_mut_ptr().add(start).cast(),
                bound,
                src.as_ptr().cast(),
                src.len(),
            )
        };
        if is_error(n) {
            return false;
        }
        // SAFETY: ZSTD_compress2 initialised the `n` bytes after `start` (n <= bound).
        unsafe { out.set_len(start + n) };
        true
    })
}

/// Decompresses one frame made by [`compress`] with the same `prefix`; the result must be
/// exactly `raw_len` bytes long (more is an error from zstd, less is reported here).
pub fn decompress(frame: &[u8], raw_len: usize, prefix: &[u8]) -> Result<Vec<u8>, String> {
    DCTX.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            // SAFETY: creating a context has no preconditions; null means allocation failure.
            let d = NonNull::new(unsafe { z::ZSTD_createDCtx() })
                .ok_or("cannot allocate a zstd decompression context")?;
            *slot = Some(Dctx(d));
        }
        let dctx = slot.as_ref().expect("just set").0.as_ptr();
        let mut out: Vec<u8> = Vec::with_capacity(raw_len);
        // SAFETY: `dctx` is this thread's live context; the prefix is referenced for this one
        // frame only and outlives the call; `out` has `raw_len` bytes of capacity, the most
        // ZSTD_decompressDCtx writes.
        let n = unsafe {
            z::ZSTD_DCtx_reset(dctx, z::ZSTD_ResetDirective::ZSTD_reset_session_only);
            if !prefix.is_empty() {
                let r = z::ZSTD_DCtx_refPrefix(dctx, prefix.as_ptr().cast(), prefix.len());
                if is_error(r) {
                    return Err(error_name(r));
                }
            }
            z::ZSTD_decompressDCtx(
                dctx,
                out.as_mut_ptr().cast(),
                raw_len,
                frame.as_ptr().cast(),
                frame.len(),
            )
        };
        if is_error(n) {
            return Err(error_name(n));
        }
        if n != raw_len {
            return Err(format!("decompressed to {n} bytes, expected {raw_len}"));
        }
        // SAFETY: ZSTD_decompressDCtx initialised the first `n` bytes (n <= raw_len).
        unsafe { out.set_len(n) };
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| format!("{i}\tuser_{}\t{{\"k\": {}}}\n", i % 13, i * 7))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn round_trip_with_and_without_prefix() {
        let data = text(5000);
        let prefix = text(300);
        for p in [&[][..], &prefix[..]] {
            let c = compress(&data, 3, p).expect("compresses");
            assert!(c.len() < data.len());
            assert_eq!(decompress(&c, data.len(), p).expect("decompresses"), data);
        }
    }

    #[test]
    fn a_prefix_helps_and_is_needed_to_decompress() {
        let data = text(2000);
        let prefix = data[..4096].to_vec();
        let plain = compress(&data, 3, &[]).unwrap();
        let with = compress(&data, 3, &prefix).unwrap();
        assert!(with.len() < plain.len());
        assert_ne!(decompress(&with, data.len(), &[]).ok(), Some(data.clone()));
    }

    #[test]
    fn compressing_in_the_room_in_front_equals_compressing_behind_a_copied_prefix() {
        let data = text(3000);
        let prefix = text(200);
        let copied = compress(&data, 3, &prefix).unwrap();
        let mut roomy = Plain::with_room(prefix.len() + 7, &data);
        let mut out = b"head".to_vec();
        assert!(compress_plain_into(&mut out, &mut roomy, 3, &prefix));
        assert_eq!(&out[..4], b"head");
        assert_eq!(out[4..], copied[..]);
        assert_eq!(roomy.bytes(), &data[..]);
        // Too little room: the copying path gives the same frame.
        let mut tight = Plain::with_room(3, &data);
        let mut out2 = Vec::new();
        assert!(compress_plain_into(&mut out2, &mut tight, 3, &prefix));
        assert_eq!(out2, copied);
        assert_eq!(decompress(&out2, data.len(), &prefix).unwrap(), data);
    }

    #[test]
    fn a_wrong_length_is_an_error() {
        let data = text(1000);
        let c = compress(&data, 3, &[]).unwrap();
        assert!(decompress(&c, data.len() - 1, &[]).is_err());
        assert!(decompress(&c, data.len() + 1, &[]).is_err());
    }
}
