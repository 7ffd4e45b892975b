//! Cache of open table handles (file descriptor, index, bloom filter), bounded in count.
//!
//! Opening a table reads and verifies its footer, index, filter and properties, so handles are
//! kept. The map is small (hundreds of entries), behind a read-write lock: every point
//! read looks a table up, from many threads at once, so a hit takes only the read lock
//! and touches no shared counter unless the entry's use mark is stale. The use clock ticks
//! only when a table is opened, which is the only time anything is evicted: "least
//! recently used" means "least recently used as of the last open". Tables are opened
//! *outside* the lock so a slow open never blocks readers of other tables.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::cache::{BlockCache, KeyHasher};
use crate::fs::table_file_name;
use crate::sstable::Table;
use crate::Result;

/// Table number -> (handle, last use tick), hashed cheaply (numbers the engine chose).
type Handles = HashMap<u64, (Arc<Table>, AtomicU64), BuildHasherDefault<KeyHasher>>;

pub struct TableCache {
    dir: PathBuf,
    block_cache: Arc<BlockCache>,
    capacity: usize,
    tick: AtomicU64,
    map: RwLock<Handles>,
}

impl TableCache {
    pub fn new(dir: PathBuf, block_cache: Arc<BlockCache>, capacity: usize) -> TableCache {
        TableCache {
            dir,
            block_cache,
            capacity: capacity.max(1),
            tick: AtomicU64::new(0),
            map: RwLock::new(HashMap::default()),
        }
    }

    pub fn block_cache(&self) -> &Arc<BlockCache> {
        &self.block_cache
    }

    /// The handle of table `number`, opening it if needed.
    pub fn get(&self, number: u64) -> Result<Arc<Table>> {
        {
            let map = self
                .map
                .read()
                .expect("table cache lock poisoned: a holder panicked");
            if let Some((t, used)) = map.get(&number) {
                let now = self.tick.load(Ordering::Relaxed);
                if used.load(Ordering::Relaxed) != now {
                    used.store(now, Ordering::Relaxed);
                }
                return Ok(t.clone());
            }
        }
        let tick = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        let table = Table::open(
            &table_file_name(&self.dir, number),
            number,
            self.block_cache.clone(),
        )?;
        let mut map = self
            .map
            .write()
            .expect("table cache lock poisoned: a holder panicked");
        let t = map
            .entry(number)
            .or_insert((table, AtomicU64::new(tick)))
            .0
            .clone();
        if map.len() > self.capacity {
            let victim = map
                .iter()
                .min_by_key(|(_, (_, used))| used.load(Ordering::Relaxed))
                .map(|(n, _)| *n);
            if let Some(v) = victim.filter(|v| *v != number) {
                map.remove(&v);
            }
        }
        Ok(t)
    }

    /// Forget table `number` (it is being deleted).
    pub fn evict(&self, number: u64) {
        self.map
            .write()
            .expect("table cache lock poisoned: a holder panicked")
            .remove(&number);
        self.block_cache.erase_file(number);
    }

    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
