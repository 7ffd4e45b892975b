//! Advisory write locks: hot rows wait their turn instead of aborting.
//!
//! Optimistic transactions on a hot key mostly abort: every transaction that read the key
//! before another one committed a write to it fails at commit (pgbench's ten branch rows
//! made half of all attempts retry at 16 clients). PostgreSQL and CockroachDB make the
//! second writer wait for the first instead; this module does the same, without giving up
//! optimistic validation:
//!
//! ```text
//!   tx.lock_for_update(key)   wait until no other transaction of this Database holds
//!                             `key` (bounded: after WAIT_LIMIT go on without it), take it,
//!                             then refresh: move the read version to a fresh one if
//!                             everything read so far is unchanged at it
//!   commit / drop             release every lock the transaction took
//! ```
//!
//! A lock is only a hint. It never replaces the resolver's check: a writer that takes no
//! lock (a raw KV client, a range update, a lock wait that timed out) is still caught at
//! commit, so the worst a lock can cost is waiting. What it buys: the lock holder's write
//! is committed before the next writer reads the key, and the refresh lets that reader see
//! it (its read version moves past the holder's commit), so neither conflicts.
//!
//! **Refresh** (CockroachDB's read refresh, by value): the transaction takes a fresh read
//! version and reads every key of its read set at both the old and the new one (storage
//! keeps the old versions for the MVCC window, so nothing is remembered per read); if all
//! are equal, reading everything at the new version would have returned what it did, so
//! the transaction continues at the new version. The metadata version must be unchanged
//! too. A transaction that read a range, or added read conflicts by hand, cannot be
//! refreshed and keeps its read version (the lock still orders it behind the holder; it
//! may conflict).
//!
//! Deadlocks are broken by the wait limit: two transactions waiting for each other's keys
//! both go on unlocked after it, and the resolver lets at most one of them commit.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest a transaction waits for one lock before going on without it.
pub const WAIT_LIMIT: Duration = Duration::from_millis(500);
/// Locks one transaction takes at most; beyond, it writes optimistically.
pub const MAX_LOCKS_PER_TRANSACTION: usize = 1024;

const SHARDS: usize = 16;

/// Locked keys and their owners, with the waiters of one shard.
type Shard = (Mutex<HashMap<Vec<u8>, u64>>, Condvar);

/// The locks of one [`super::Database`] handle (every session of a server shares one).
pub struct LockTable {
    shards: Vec<Shard>,
}

impl Default for LockTable {
    fn default() -> Self {
        LockTable {
            shards: (0..SHARDS)
                .map(|_| (Mutex::new(HashMap::new()), Condvar::new()))
                .collect(),
        }
    }
}

impl LockTable {
    fn shard(&self, key: &[u8]) -> &Shard {
        // FNV-1a: cheap and good enough to spread keys over a few shards.
        let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// Take `key` for transaction `owner`, waiting up to `limit` for its holder to let go.
    /// `Acquired::Already` when `owner` holds it; `TimedOut` leaves it to its holder.
    pub fn acquire(&self, key: &[u8], owner: u64, limit: Duration) -> Acquired {
        let (lock, cv) = self.shard(key);
        let deadline = Instant::now() + limit;
        let Ok(mut held) = lock.lock() else {
            return Acquired::TimedOut;
        };
        let mut waited = false;
        loop {
            match held.get(key) {
                None => {
                    held.insert(key.to_vec(), owner);
                    return Acquired::Now { waited };
                }
                Some(&o) if o == owner => return Acquired::Already,
                Some(_) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Acquired::TimedOut;
            }
            waited = true;
            held = match cv.wait_timeout(held, deadline - now) {
                Ok((h, _)) => h,
                Err(_) => return Acquired::TimedOut,
            };
        }
    }

    /// Let go of `keys` held by `owner`, waking their waiters.
    pub fn release(&self, keys: &[Vec<u8>], owner: u64) {
        for key in keys {
            let (lock, cv) = self.shard(key);
            if let Ok(mut held) = lock.lock() {
                if held.get(key) == Some(&owner) {
                    held.remove(key);
                }
            }
            cv.notify_all();
        }
    }

    /// How many keys are locked now (tests).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|(l, _)| l.lock().map_or(0, |h| h.len()))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What [`LockTable::acquire`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquired {
    /// Taken now; `waited` when another transaction held it first.
    Now { waited: bool },
    /// The transaction already held it.
    Already,
    /// Still held by another transaction after the wait limit.
    TimedOut,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_second_owner_waits_for_the_first_to_release() {
        let t = Arc::new(LockTable::default());
        assert_eq!(
            t.acquire(b"k", 1, WAIT_LIMIT),
            Acquired::Now { waited: false }
        );
        assert_eq!(t.acquire(b"k", 1, WAIT_LIMIT), Acquired::Already);
        let t2 = t.clone();
        let waiter = std::thread::spawn(move || t2.acquire(b"k", 2, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        t.release(&[b"k".to_vec()], 1);
        assert_eq!(waiter.join().unwrap(), Acquired::Now { waited: true });
        assert_eq!(t.len(), 1);
        t.release(&[b"k".to_vec()], 2);
        assert!(t.is_empty());
    }

    #[test]
    fn a_wait_gives_up_at_its_limit_and_others_keys_are_untouched() {
        let t = LockTable::default();
        t.acquire(b"k", 1, WAIT_LIMIT);
        assert_eq!(
            t.acquire(b"k", 2, Duration::from_millis(10)),
            Acquired::TimedOut
        );
        // Releasing a key one does not hold changes nothing.
        t.release(&[b"k".to_vec()], 2);
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.acquire(b"other", 2, WAIT_LIMIT),
            Acquired::Now { waited: false }
        );
    }
}
