//! LEB128 varints (7 bits a byte, low first, high bit = more follows) and zig-zag signed
//! integers: the coding of snapshot deltas and of game values. 0..=63 and -64..=-1 take one
//! byte; |n| < 8192 two.

/// Appends `n` as an unsigned LEB128 varint.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Folds a signed integer into an unsigned one so that small magnitudes stay small:
/// 0, -1, 1, -2, 2 become 0, 1, 2, 3, 4.
#[inline]
pub fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// The inverse of `zigzag`.
#[inline]
pub fn unzigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

/// Appends `n` zig-zagged, as a LEB128 varint.
#[inline]
pub fn put_i64(out: &mut Vec<u8>, n: i64) {
    put_u64(out, zigzag(n));
}

/// A bounds-checked cursor. Errors are static strings; callers wrap them.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Bytes read so far: the offset of the next one.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// An unsigned varint of at most 10 bytes that fits a u64.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, &'static str> {
        let mut n = 0u64;
        let mut shift = 0;
        loop {
            let b = *self.bytes.get(self.pos).ok_or("unexpected end")?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err("varint overflows 64 bits");
            }
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(n);
            }
            shift += 7;
        }
    }

    /// A zig-zag signed varint of at most 10 bytes.
    #[inline]
    pub fn i64(&mut self) -> Result<i64, &'static str> {
        self.u64().map(unzigzag)
    }

    /// An unsigned varint that must fit a u32.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, &'static str> {
        u32::try_from(self.u64()?).map_err(|_| "varint overflows 32 bits")
    }

    /// The next `n` bytes as they are (a string's bytes after its length).
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let s = self
            .bytes
            .get(self.pos..self.pos.checked_add(n).ok_or("length overflow")?)
            .ok_or("unexpected end")?;
        self.pos += n;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sizes() {
        for n in [0i64, 1, -1, 63, -64, 64, 8191, -8192, i64::MAX, i64::MIN] {
            let mut b = Vec::new();
            put_i64(&mut b, n);
            let mut r = Reader::new(&b);
            assert_eq!(r.i64(), Ok(n));
            assert_eq!(r.remaining(), 0);
        }
        let size = |n| {
            let mut b = Vec::new();
            put_i64(&mut b, n);
            b.len()
        };
        assert_eq!((size(63), size(-64), size(64), size(8191)), (1, 1, 2, 2));
    }

    #[test]
    fn rejects_truncation_and_overflow() {
        assert!(Reader::new(&[0x80]).u64().is_err());
        assert!(Reader::new(&[0xff; 10]).u64().is_err());
        assert!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x10]).u32().is_err());
    }
}
