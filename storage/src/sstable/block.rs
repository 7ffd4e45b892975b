//! Data and index blocks: the prefix-compressed entry format and its builder.
//!
//! A block is a run of entries whose keys share prefixes with their predecessor, followed by
//! an array of *restart points*: offsets of entries that store their whole key. Restart points
//! make the block searchable without decoding it all (binary search over restarts, then a
//! short linear scan) and give backward iteration a place to restart from. The byte format is
//! documented in the `sstable` module essay.
//!
//! A [`Block`] is the decoded, decompressed form kept in the block cache. Its constructor
//! validates the restart array once (bounds, `restarts[0] == 0`, strictly increasing), so
//! iterators can trust restart offsets; entries are still decoded defensively, since their
//! bytes are only covered by the CRC, which a buggy or hostile writer could have computed over
//! garbage.

use crate::coding::{get_u32_le, put_varint};
use crate::types::{ValueKind, Version};

/// Why a block's bytes do not decode, and where (a byte offset into the decoded block).
/// Turned into `Error::Corruption` by the table, which knows the file and block offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub reason: &'static str,
    pub at: usize,
}

pub(crate) fn malformed(reason: &'static str, at: usize) -> Malformed {
    Malformed { reason, at }
}

/// A decoded (decompressed) data or index block with a validated restart array.
#[derive(Debug)]
pub struct Block {
    data: Vec<u8>,
    /// Where the restart array starts, which is also where the entries end.
    restarts_offset: usize,
    num_restarts: usize,
}

impl Block {
    /// Validate the restart array of `data` (the block contents, trailer already stripped).
    pub fn new(data: Vec<u8>) -> Result<Block, Malformed> {
        let len = data.len();
        let count_at = len
            .checked_sub(4)
            .ok_or_else(|| malformed("block shorter than its restart count", 0))?;
        let n = get_u32_le(&data, count_at)
            .ok_or_else(|| malformed("block shorter than its restart count", 0))?
            as usize;
        if n == 0 {
            return Err(malformed("block has no restart points", count_at));
        }
        let restarts_offset = n
            .checked_mul(4)
            .and_then(|b| count_at.checked_sub(b))
            .ok_or_else(|| malformed("restart count exceeds block size", count_at))?;
        let mut prev: Option<usize> = None;
        for i in 0..n {
            let at = restarts_offset + 4 * i;
            let r = get_u32_le(&data, at).ok_or_else(|| malformed("restart out of range", at))?
                as usize;
            let ok = match prev {
                None => r == 0,
                Some(p) => r > p && r < restarts_offset,
            };
            if !ok {
                return Err(malformed("restart points out of order or range", at));
            }
            prev = Some(r);
        }
        Ok(Block {
            data,
            restarts_offset,
            num_restarts: n,
        })
    }

    /// Memory this block holds, as charged by the cache.
    pub fn charge(&self) -> usize {
        self.data.capacity() + std::mem::size_of::<Block>()
    }

    /// Size of the decoded block in bytes.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// Whether the block holds no entries.
    pub fn is_empty(&self) -> bool {
        self.restarts_offset == 0
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    pub(crate) fn restarts_offset(&self) -> usize {
        self.restarts_offset
    }

    pub(crate) fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// Offset of restart entry `i`; `i < num_restarts` and the array was validated in `new`,
    /// so the fallback (end of entries, i.e. "no entry") is never taken.
    pub(crate) fn restart(&self, i: usize) -> usize {
        get_u32_le(&self.data, self.restarts_offset + 4 * i)
            .map_or(self.restarts_offset, |v| v as usize)
    }
}

/// Accumulates entries (already in order) into one block's contents.
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    interval: usize,
    /// Entries since the last restart point.
    counter: usize,
    last_key: Vec<u8>,
    last_version: Version,
    entries: usize,
}

impl BlockBuilder {
    pub fn new(restart_interval: usize) -> BlockBuilder {
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            interval: restart_interval.max(1),
            counter: 0,
            last_key: Vec::new(),
            last_version: 0,
            entries: 0,
        }
    }

    /// Append an entry; the caller guarantees internal order and bounded block size
    /// (offsets must fit in u32).
    pub fn add(&mut self, key: &[u8], version: Version, kind: ValueKind, value: &[u8]) {
        let shared = if self.counter < self.interval {
            common_prefix(&self.last_key, key)
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
            0
        };
        let unshared = &key[shared..];
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, unshared.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(unshared);
        self.buf.extend_from_slice(&version.to_le_bytes());
        self.buf.push(kind as u8);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(unshared);
        self.last_version = version;
        self.counter += 1;
        self.entries += 1;
    }

    /// Size of the block contents if it were finished now.
    pub fn estimated_size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    pub fn last_version(&self) -> Version {
        self.last_version
    }

    /// Append the restart array and return the finished contents; call `reset` before reuse.
    pub fn finish(&mut self) -> &[u8] {
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        self.buf
            .extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        &self.buf
    }

    /// Start a new block, keeping the allocations.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.last_key.clear();
        self.last_version = 0;
        self.entries = 0;
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_block_is_valid_and_empty() {
        let mut b = BlockBuilder::new(16);
        let block = Block::new(b.finish().to_vec()).unwrap();
        assert!(block.is_empty());
        assert_eq!(block.num_restarts(), 1);
    }

    #[test]
    fn restart_every_interval_entries() {
        let mut b = BlockBuilder::new(2);
        for i in 0..5u8 {
            b.add(&[b'k', i], 1, ValueKind::Value, b"v");
        }
        let block = Block::new(b.finish().to_vec()).unwrap();
        assert_eq!(block.num_restarts(), 3);
        assert_eq!(block.restart(0), 0);
        assert!(block.restart(1) > 0 && block.restart(2) > block.restart(1));
    }

    #[test]
    fn bad_restart_arrays_are_rejected() {
        // Too short for the count.
        assert!(Block::new(vec![1, 0]).is_err());
        // Zero restarts.
        assert!(Block::new(vec![0, 0, 0, 0]).is_err());
        // Count larger than the block.
        assert!(Block::new(vec![0, 0, 0, 0, 9, 0, 0, 0]).is_err());
        // restarts[0] != 0.
        assert!(Block::new(vec![7, 7, 7, 1, 0, 0, 0, 1, 0, 0, 0]).is_err());
        // Restart beyond the entries.
        assert!(Block::new(vec![7, 7, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0]).is_err());
        // Decreasing restarts.
        assert!(Block::new(vec![7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]).is_err());
    }
}
