//! The CancelRequest registry: which running session a `(process id, secret key)` pair
//! names.
//!
//! Every connection gets a key at accept (`server`), sends it in BackendKeyData, and
//! registers its session's [`CancelHandle`] under it once the session exists. A client
//! cancels by opening a *new* connection whose startup packet is a CancelRequest
//! (code 80877102, then int32 process id, int32 secret); that connection looks the pair up
//! here, raises the handle when both match, and closes without an answer, as PostgreSQL
//! does. A wrong secret or an unknown process id does nothing, silently (a cancel must
//! not reveal which ids exist). The session stops its running statement at its next
//! cancel check with 57014; a session that is idle forgets the cancel when its next
//! statement starts (`ferrisdb_sql::cancel`).
//!
//! A connection unregisters its key when it is dropped, so a process id reused later
//! cannot reach a stale handle.

use std::collections::HashMap;
use std::sync::Mutex;

use ferrisdb_sql::CancelHandle;

use super::protocol::BackendKey;

/// The live sessions by process id, with their secret keys.
#[derive(Default)]
pub struct CancelRegistry {
    sessions: Mutex<HashMap<i32, (i32, CancelHandle)>>,
}

impl CancelRegistry {
    pub fn new() -> CancelRegistry {
        CancelRegistry::default()
    }

    pub fn register(&self, key: BackendKey, handle: CancelHandle) {
        if let Ok(mut m) = self.sessions.lock() {
            m.insert(key.pid, (key.secret, handle));
        }
    }

    /// Forgets `key` (only if it is still the registered one).
    pub fn unregister(&self, key: BackendKey) {
        if let Ok(mut m) = self.sessions.lock() {
            if m.get(&key.pid).is_some_and(|(s, _)| *s == key.secret) {
                m.remove(&key.pid);
            }
        }
    }

    /// Raises the handle of `pid` if `secret` (the CancelRequest's key bytes) matches;
    /// whether it did.
    pub fn cancel(&self, pid: i32, secret: &[u8]) -> bool {
        let Ok(given) = <[u8; 4]>::try_from(secret) else {
            return false;
        };
        let given = i32::from_be_bytes(given);
        let Ok(m) = self.sessions.lock() else {
            return false;
        };
        match m.get(&pid) {
            Some((s, handle)) if *s == given => {
                tracing::debug!(pid, "cancel request");
                handle.cancel();
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_matching_key_cancels() {
        let r = CancelRegistry::new();
        let h = CancelHandle::new();
        let key = BackendKey {
            pid: 3,
            secret: -77,
        };
        r.register(key, h.clone());
        assert!(!r.cancel(3, &(-76i32).to_be_bytes()));
        assert!(!r.cancel(4, &(-77i32).to_be_bytes()));
        assert!(!r.cancel(3, &[1, 2, 3]));
        assert!(!h.is_cancelled());
        assert!(r.cancel(3, &(-77i32).to_be_bytes()));
        assert!(h.is_cancelled());
        r.unregister(BackendKey { pid: 3, secret: 0 });
        assert!(
            r.cancel(3, &(-77i32).to_be_bytes()),
            "a wrong key does not unregister"
        );
        r.unregister(key);
        assert!(!r.cancel(3, &(-77i32).to_be_bytes()));
    }
}
