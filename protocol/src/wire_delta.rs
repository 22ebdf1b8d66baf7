//! A hand-written reader of exactly bincode 2 `config::standard()`'s layout of `Delta`, for the
//! hottest path of every client: decoding (`decode`) or applying straight from the bytes
//! (`apply`, no `Delta` built). `codec`'s tests check it against bincode itself.

use crate::codec::{ApplyError, DecodeError};
use crate::delta::{Change, Delta, DeltaError, GapDecoder, Move, Spawn, move_by};
use crate::limits::MAX_LIST_LEN;
use crate::table::{EntityId, EntityState, EntityTable};

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Malformed(format!("delta: {what}"))
}

fn end() -> DecodeError {
    malformed("unexpected end")
}

impl Reader<'_> {
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or_else(end)?;
        self.pos += 1;
        Ok(b)
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.bytes.get(self.pos..self.pos + N).ok_or_else(end)?;
        self.pos += N;
        Ok(s.try_into().expect("N bytes"))
    }

    /// A list length: varint u64, at most `MAX_LIST_LEN`.
    fn len(&mut self) -> Result<usize, DecodeError> {
        let len = match self.byte()? {
            b @ 0..=250 => u64::from(b),
            251 => u64::from(u16::from_le_bytes(self.le()?)),
            252 => u64::from(u32::from_le_bytes(self.le()?)),
            253 => u64::from_le_bytes(self.le()?),
            _ => return Err(malformed("invalid varint")),
        };
        if len > MAX_LIST_LEN as u64 {
            return Err(malformed("list longer than the entry limit"));
        }
        Ok(len as usize)
    }

    #[inline(always)]
    fn u32(&mut self) -> Result<u32, DecodeError> {
        match self.byte()? {
            b @ 0..=250 => Ok(u32::from(b)),
            first => self.wide_u32(first),
        }
    }

    /// The rare multi-byte forms, out of line so the one-byte path stays small.
    #[inline(never)]
    fn wide_u32(&mut self, first: u8) -> Result<u32, DecodeError> {
        match first {
            251 => Ok(u32::from(u16::from_le_bytes(self.le()?))),
            252 => Ok(u32::from_le_bytes(self.le()?)),
            _ => Err(malformed("invalid u32 varint")),
        }
    }

    #[inline(always)]
    fn i32(&mut self) -> Result<i32, DecodeError> {
        let n = self.u32()?;
        Ok((n >> 1) as i32 ^ -((n & 1) as i32))
    }

    fn state(&mut self) -> Result<EntityState, DecodeError> {
        Ok(EntityState {
            kind: self.byte()?,
            x: self.i32()?,
            y: self.i32()?,
        })
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let len = self.len()?;
        // Every entry takes at least one byte: no claim can allocate past the input.
        let mut out = Vec::with_capacity(len.min(self.bytes.len() - self.pos));
        for _ in 0..len {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

pub fn decode(bytes: &[u8]) -> Result<Delta, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let delta = Delta {
        despawned: r.list(Reader::u32)?,
        spawned: r.list(|r| {
            Ok(Spawn {
                gap: r.u32()?,
                version: r.u32()?,
                state: r.state()?,
            })
        })?,
        moved: r.list(|r| {
            Ok(Move {
                gap: r.u32()?,
                dx: r.i32()?,
                dy: r.i32()?,
            })
        })?,
        changed: r.list(|r| {
            Ok(Change {
                gap: r.u32()?,
                state: r.state()?,
            })
        })?,
    };
    r.finish()?;
    Ok(delta)
}

/// `Delta::apply` of the encoded delta, in the same order with the same errors.
pub fn apply(bytes: &[u8], table: &mut EntityTable) -> Result<(), ApplyError> {
    let mut r = Reader { bytes, pos: 0 };
    let mut g = GapDecoder::new();
    for _ in 0..r.len()? {
        table.remove(g.index(r.u32()?)?).map_err(DeltaError::from)?;
    }
    let mut g = GapDecoder::new();
    for _ in 0..r.len()? {
        let index = g.index(r.u32()?)?;
        let id = EntityId {
            index,
            version: r.u32()?,
        };
        table.insert(id, r.state()?).map_err(DeltaError::from)?;
    }
    let mut g = GapDecoder::new();
    for _ in 0..r.len()? {
        let index = g.index(r.u32()?)?;
        let (dx, dy) = (r.i32()?, r.i32()?);
        move_by(table, index, dx, dy)?;
    }
    let mut g = GapDecoder::new();
    for _ in 0..r.len()? {
        let index = g.index(r.u32()?)?;
        let state = r.state()?;
        *table.state_mut(index).map_err(DeltaError::from)? = state;
    }
    r.finish()?;
    Ok(())
}
