//! A blob's plaintext in a buffer that may keep spare room in front of it.
//!
//! Compressing with the repository's dictionary needs the dictionary's prefix right before the
//! plaintext in memory ([`crate::format::zblob`]). A chunk cut with room in front
//! ([`crate::format::chunker::Chunks::next_chunk`]) lets the compressor write the prefix there
//! instead of copying every chunk behind a prefix.

/// Plaintext bytes `buf[at..]`, with `at` bytes of spare room before them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plain {
    buf: Vec<u8>,
    at: usize,
}

impl Plain {
    /// Plaintext without room in front.
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Plain { buf, at: 0 }
    }

    /// A copy of `bytes` with `room` spare bytes in front.
    pub fn with_room(room: usize, bytes: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(room + bytes.len());
        buf.resize(room, 0);
        buf.extend_from_slice(bytes);
        Plain { buf, at: room }
    }

    /// The plaintext.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.at..]
    }

    /// Spare bytes in front of the plaintext.
    pub fn room(&self) -> usize {
        self.at
    }

    /// The whole buffer (room, then plaintext) and where the plaintext starts, for writing into
    /// the room.
    pub fn parts_mut(&mut self) -> (&mut [u8], usize) {
        (&mut self.buf, self.at)
    }

    /// The plaintext as a vector (moves it to the front when there is room before it).
    pub fn into_vec(mut self) -> Vec<u8> {
        if self.at > 0 {
            self.buf.drain(..self.at);
        }
        self.buf
    }
}

impl std::ops::Deref for Plain {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_kept_apart_from_the_plaintext() {
        let mut p = Plain::with_room(4, b"abc");
        assert_eq!(p.bytes(), b"abc");
        assert_eq!(p.room(), 4);
        let (buf, at) = p.parts_mut();
        buf[..at].copy_from_slice(b"1234");
        assert_eq!(&*p, b"abc");
        assert_eq!(p.into_vec(), b"abc");
        assert_eq!(Plain::from_vec(b"xy".to_vec()).into_vec(), b"xy");
    }
}
