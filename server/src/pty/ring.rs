//! A bounded byte ring addressed by absolute stream offsets: the retained tail of a terminal's
//! output. Readers keep their own offset, so a slow reader never holds the writer back; one that
//! falls further behind than the capacity simply skips ahead.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct Ring {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// Absolute offset of `bytes[0]` in the whole output stream.
    start: u64,
}

impl Ring {
    pub fn new(capacity: usize) -> Ring {
        Ring {
            bytes: VecDeque::with_capacity(capacity.min(64 * 1024)),
            capacity: capacity.max(1),
            start: 0,
        }
    }

    /// Most bytes kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Offset one past the last byte ever written.
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// Offset of the oldest byte still retained.
    #[cfg(test)]
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Forgets what is retained and continues at `offset` (a mirror that was told the stream
    /// goes on from there).
    pub fn jump_to(&mut self, offset: u64) {
        self.bytes.clear();
        self.start = offset;
    }

    pub fn push(&mut self, data: &[u8]) {
        let data = if data.len() > self.capacity {
            // Only the newest `capacity` bytes can be kept.
            self.start += (self.bytes.len() + data.len() - self.capacity) as u64;
            self.bytes.clear();
            &data[data.len() - self.capacity..]
        } else {
            let overflow = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
            self.bytes.drain(..overflow);
            self.start += overflow as u64;
            data
        };
        self.bytes.extend(data);
    }

    /// Up to `max` bytes from `offset` (clamped to the retained range). Returns the offset the
    /// bytes actually start at, which is greater than `offset` when the reader fell behind.
    pub fn read_from(&self, offset: u64, max: usize) -> (u64, Vec<u8>) {
        let from = offset.clamp(self.start, self.end());
        let skip = (from - self.start) as usize;
        let take = max.min(self.bytes.len() - skip);
        let (a, b) = self.bytes.as_slices();
        let mut out = Vec::with_capacity(take);
        if skip < a.len() {
            let first = &a[skip..(skip + take).min(a.len())];
            out.extend_from_slice(first);
            out.extend_from_slice(&b[..take - first.len()]);
        } else {
            let s = skip - a.len();
            out.extend_from_slice(&b[s..s + take]);
        }
        (from, out)
    }

    /// The last `max` retained bytes.
    pub fn tail(&self, max: usize) -> Vec<u8> {
        let end = self.end();
        self.read_from(end.saturating_sub(max as u64), max).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_with_absolute_offsets() {
        let mut ring = Ring::new(8);
        ring.push(b"hello");
        ring.push(b" world");
        assert_eq!(ring.end(), 11);
        assert_eq!(ring.start(), 3);
        assert_eq!(ring.tail(100), b"lo world");
        assert_eq!(ring.read_from(0, 100), (3, b"lo world".to_vec()));
        assert_eq!(ring.read_from(6, 3), (6, b"wor".to_vec()));
        assert_eq!(ring.read_from(11, 3), (11, Vec::new()));
    }

    #[test]
    fn oversized_writes_keep_their_tail() {
        let mut ring = Ring::new(4);
        ring.push(b"ab");
        ring.push(b"0123456789");
        assert_eq!(ring.tail(10), b"6789");
        assert_eq!(ring.start(), 8);
        assert_eq!(ring.end(), 12);
    }

    #[test]
    fn reads_across_the_wrap_point() {
        let mut ring = Ring::new(6);
        for chunk in [&b"abcd"[..], b"efgh", b"ij"] {
            ring.push(chunk);
        }
        assert_eq!(ring.read_from(4, 6), (4, b"efghij".to_vec()));
        assert_eq!(ring.read_from(5, 2), (5, b"fg".to_vec()));
    }
}
