//! Cache of open table handles (file descriptor, index, bloom filter), bounded in count.
//!
//! Opening a table reads and verifies its footer, index, filter and properties, so handles are
//! kept. The map is small (hundreds of entries), guarded by one mutex; tables are opened
//! *outside* the lock so a slow open never blocks readers of other tables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::cache::BlockCache;
use crate::fs::table_file_name;
use crate::sstable::Table;
use crate::Result;

pub struct TableCache {
    dir: PathBuf,
    block_cache: Arc<BlockCache>,
    capacity: usize,
    tick: AtomicU64,
    /// table number -> (handle, last use tick)
    map: Mutex<HashMap<u64, (Arc<Table>, u64)>>,
}

impl TableCache {
    pub fn new(dir: PathBuf, block_cache: Arc<BlockCache>, capacity: usize) -> TableCache {
        TableCache {
            dir,
            block_cache,
            capacity: capacity.max(1),
            tick: AtomicU64::new(0),
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn block_cache(&self) -> &Arc<BlockCache> {
        &self.block_cache
    }

    /// The handle of table `number`, opening it if needed.
    pub fn get(&self, number: u64) -> Result<Arc<Table>> {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        {
            let mut map = self
                .map
                .lock()
                .expect("table cache lock poisoned: a holder panicked");
            if let Some((t, used)) = map.get_mut(&number) {
                *used = tick;
                return Ok(t.clone());
            }
        }
        let table = Table::open(
            &table_file_name(&self.dir, number),
            number,
            self.block_cache.clone(),
        )?;
        let mut map = self
            .map
            .lock()
            .expect("table cache lock poisoned: a holder panicked");
        let t = map.entry(number).or_insert((table, tick)).0.clone();
        if map.len() > self.capacity {
            let victim = map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
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
            .lock()
            .expect("table cache lock poisoned: a holder panicked")
            .remove(&number);
        self.block_cache.erase_file(number);
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
