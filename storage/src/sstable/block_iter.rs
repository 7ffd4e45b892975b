//! A bidirectional cursor over one [`Block`], LevelDB style.
//!
//! Forward steps decode the next entry, rebuilding the key from the shared prefix of the
//! previous one into a reused buffer (no allocation per entry). There is no backward link
//! between entries, so `prev` jumps to the last restart point before the current entry and
//! scans forward to the entry just before it; with restarts every 16 entries that is at most
//! 16 decodes. `seek` binary-searches the restart points (whose keys are stored whole) for the
//! last one before the target, then scans forward.
//!
//! Invariants: `current < restarts_offset` exactly when the cursor is valid; `restart_index`
//! is the restart region holding `current`; `next` is the offset just past the current entry.
//! Every decode is bounds-checked against the entry region; a malformed entry makes the
//! cursor invalid and is reported as [`Malformed`].

use std::cmp::Ordering;
use std::sync::Arc;

use super::block::{malformed, Block, Malformed};
use crate::coding::{get_u64_le, get_varint};
use crate::types::{compare_internal, ValueKind, Version};

type BResult<T> = Result<T, Malformed>;

/// One decoded entry header: where its parts are inside the block.
struct Parsed {
    shared: usize,
    suffix: (usize, usize),
    version: Version,
    kind: ValueKind,
    value: (usize, usize),
    end: usize,
}

/// Decode the entry at `p`; `entries` is the entry region (block data before the restarts).
fn parse_entry(entries: &[u8], p: usize) -> BResult<Parsed> {
    let bad = |reason| malformed(reason, p);
    let mut pos = p;
    let varint = |pos: &mut usize| -> BResult<usize> {
        let (v, n) = entries
            .get(*pos..)
            .and_then(get_varint)
            .ok_or_else(|| bad("truncated entry header"))?;
        *pos += n;
        usize::try_from(v).map_err(|_| bad("entry length overflows"))
    };
    let shared = varint(&mut pos)?;
    let unshared = varint(&mut pos)?;
    let value_len = varint(&mut pos)?;
    let suffix_end = pos
        .checked_add(unshared)
        .filter(|&e| e <= entries.len())
        .ok_or_else(|| bad("key suffix runs past the entries"))?;
    let version = get_u64_le(entries, suffix_end).ok_or_else(|| bad("truncated version"))?;
    let kind_at = suffix_end + 8;
    let kind = entries
        .get(kind_at)
        .and_then(|&b| ValueKind::from_u8(b))
        .ok_or_else(|| bad("bad or missing entry kind"))?;
    let value_start = kind_at + 1;
    let end = value_start
        .checked_add(value_len)
        .filter(|&e| e <= entries.len())
        .ok_or_else(|| bad("value runs past the entries"))?;
    Ok(Parsed {
        shared,
        suffix: (pos, suffix_end),
        version,
        kind,
        value: (value_start, end),
        end,
    })
}

/// Cursor over the entries of one block.
pub struct BlockIter {
    block: Arc<Block>,
    current: usize,
    next: usize,
    restart_index: usize,
    key: Vec<u8>,
    version: Version,
    kind: ValueKind,
    value: (usize, usize),
}

impl BlockIter {
    /// An unpositioned cursor over `block`.
    pub fn new(block: Arc<Block>) -> BlockIter {
        let end = block.restarts_offset();
        BlockIter {
            block,
            current: end,
            next: end,
            restart_index: 0,
            key: Vec::new(),
            version: 0,
            kind: ValueKind::Value,
            value: (0, 0),
        }
    }

    /// Switch to another block, keeping the key buffer's allocation; unpositioned.
    pub fn set_block(&mut self, block: Arc<Block>) {
        let end = block.restarts_offset();
        self.block = block;
        self.current = end;
        self.next = end;
        self.restart_index = 0;
        self.key.clear();
    }

    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    pub fn valid(&self) -> bool {
        self.current < self.block.restarts_offset()
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    pub fn value(&self) -> &[u8] {
        self.block
            .data()
            .get(self.value.0..self.value.1)
            .unwrap_or(&[])
    }

    fn invalidate(&mut self) {
        self.current = self.block.restarts_offset();
        self.next = self.current;
    }

    fn fail<T>(&mut self, m: Malformed) -> BResult<T> {
        self.invalidate();
        Err(m)
    }

    fn seek_to_restart(&mut self, i: usize) {
        self.key.clear();
        self.restart_index = i;
        self.next = self.block.restart(i);
        self.current = self.block.restarts_offset();
    }

    /// Decode the entry at `self.next`; `Ok(false)` (and invalid) at the end of the block.
    fn parse_next(&mut self) -> BResult<bool> {
        let end = self.block.restarts_offset();
        let p = self.next;
        if p >= end {
            self.invalidate();
            return Ok(false);
        }
        let entries = self.block.data().get(..end).unwrap_or(&[]);
        let e = match parse_entry(entries, p) {
            Ok(e) => e,
            Err(m) => return self.fail(m),
        };
        if e.shared > self.key.len() {
            return self.fail(malformed("shared prefix longer than previous key", p));
        }
        let suffix = entries.get(e.suffix.0..e.suffix.1).unwrap_or(&[]);
        self.key.truncate(e.shared);
        self.key.extend_from_slice(suffix);
        self.version = e.version;
        self.kind = e.kind;
        self.value = e.value;
        self.current = p;
        self.next = e.end;
        while self.restart_index + 1 < self.block.num_restarts()
            && self.block.restart(self.restart_index + 1) <= p
        {
            self.restart_index += 1;
        }
        Ok(true)
    }

    pub fn seek_to_first(&mut self) -> BResult<()> {
        self.seek_to_restart(0);
        self.parse_next().map(|_| ())
    }

    pub fn seek_to_last(&mut self) -> BResult<()> {
        self.seek_to_restart(self.block.num_restarts() - 1);
        while self.parse_next()? {
            if self.next >= self.block.restarts_offset() {
                break;
            }
        }
        Ok(())
    }

    /// Advance; a no-op when invalid.
    pub fn next(&mut self) -> BResult<()> {
        if self.valid() {
            self.parse_next()?;
        }
        Ok(())
    }

    /// Step back to the entry before the current one; invalid before the first entry.
    pub fn prev(&mut self) -> BResult<()> {
        if !self.valid() {
            return Ok(());
        }
        let original = self.current;
        let mut r = self.restart_index;
        while self.block.restart(r) >= original {
            if r == 0 {
                self.invalidate();
                return Ok(());
            }
            r -= 1;
        }
        self.seek_to_restart(r);
        loop {
            if !self.parse_next()? {
                return self.fail(malformed("entry chain skips the current entry", original));
            }
            if self.next >= original {
                break;
            }
        }
        if self.next != original {
            return self.fail(malformed("entry chain skips the current entry", original));
        }
        Ok(())
    }

    /// The full key and version of the entry at restart point `i`.
    fn restart_key(&self, i: usize) -> BResult<(&[u8], Version)> {
        let entries = self
            .block
            .data()
            .get(..self.block.restarts_offset())
            .unwrap_or(&[]);
        let p = self.block.restart(i);
        let e = parse_entry(entries, p)?;
        if e.shared != 0 {
            return Err(malformed("restart entry shares a prefix", p));
        }
        let key = entries.get(e.suffix.0..e.suffix.1).unwrap_or(&[]);
        Ok((key, e.version))
    }

    /// Position at the first entry >= `(key, version)`; invalid if there is none.
    pub fn seek(&mut self, key: &[u8], version: Version) -> BResult<()> {
        // Find the last restart whose key is < target; entries before it are all smaller.
        let (mut lo, mut hi) = (0usize, self.block.num_restarts() - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let ord = match self.restart_key(mid) {
                Ok((k, v)) => compare_internal(k, v, key, version),
                Err(m) => return self.fail(m),
            };
            if ord == Ordering::Less {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        self.seek_to_restart(lo);
        while self.parse_next()? {
            if compare_internal(&self.key, self.version, key, version) != Ordering::Less {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::block::BlockBuilder;
    use super::*;

    fn build(n: u32, interval: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(interval);
        for i in 0..n {
            let key = format!("key{:04}", i / 3);
            b.add(
                key.as_bytes(),
                u64::from(10 - i % 3),
                ValueKind::Value,
                &i.to_le_bytes(),
            );
        }
        Arc::new(Block::new(b.finish().to_vec()).unwrap())
    }

    fn collect_forward(it: &mut BlockIter) -> Vec<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        it.seek_to_first().unwrap();
        while it.valid() {
            out.push((it.key().to_vec(), it.version()));
            it.next().unwrap();
        }
        out
    }

    #[test]
    fn forward_and_backward_agree() {
        for interval in [1, 2, 16] {
            let mut it = BlockIter::new(build(50, interval));
            let fwd = collect_forward(&mut it);
            assert_eq!(fwd.len(), 50);
            let mut back = Vec::new();
            it.seek_to_last().unwrap();
            while it.valid() {
                back.push((it.key().to_vec(), it.version()));
                it.prev().unwrap();
            }
            back.reverse();
            assert_eq!(fwd, back);
        }
    }

    #[test]
    fn seek_lands_on_first_entry_at_or_after_target() {
        let mut it = BlockIter::new(build(30, 4));
        it.seek(b"key0003", 9).unwrap();
        assert_eq!((it.key(), it.version()), (&b"key0003"[..], 9));
        it.seek(b"key0003", 100).unwrap();
        assert_eq!((it.key(), it.version()), (&b"key0003"[..], 10));
        it.seek(b"key0003", 0).unwrap();
        assert_eq!((it.key(), it.version()), (&b"key0004"[..], 10));
        it.seek(b"zzz", 0).unwrap();
        assert!(!it.valid());
        it.seek(b"", u64::MAX).unwrap();
        assert_eq!((it.key(), it.version()), (&b"key0000"[..], 10));
    }

    #[test]
    fn empty_block_is_never_valid() {
        let mut b = BlockBuilder::new(16);
        let mut it = BlockIter::new(Arc::new(Block::new(b.finish().to_vec()).unwrap()));
        it.seek_to_first().unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert!(!it.valid());
        it.seek(b"a", 1).unwrap();
        assert!(!it.valid());
    }

    #[test]
    fn garbage_entries_report_malformed_not_panic() {
        // Entry region of garbage, one restart at 0.
        let mut data = vec![0x05, 0xff, 0xff, 0x01];
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&1u32.to_le_bytes());
        let mut it = BlockIter::new(Arc::new(Block::new(data).unwrap()));
        assert!(it.seek_to_first().is_err());
        assert!(!it.valid());
        assert!(it.seek(b"a", 0).is_err());
        assert!(it.seek_to_last().is_err());
    }
}
