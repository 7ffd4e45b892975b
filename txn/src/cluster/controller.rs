//! The cluster controller: membership, the shard map, and where each shard should live.
//!
//! A pure state machine, driven by [`Controller::heartbeat`] (a storage server reporting in)
//! and [`Controller::tick`] (time passing), with the clock passed in: the coordinator process
//! feeds it from the network and persists [`ControllerState`] whenever it changes; tests drive
//! it directly.
//!
//! ```text
//!   storage server ──Heartbeat{id, addr, applied, owned, stats, moved_in}──► controller
//!                  ◄──Assignment{owned, fetch: [(range, from addr, move id)], bootstrap}──
//! ```
//!
//! The shard map partitions the key space `["", ff ff)`; every shard has one owner. It starts
//! as one shard, given to the first storage server with `bootstrap` set (that server takes it
//! from the start of the log). From then on the controller balances by the key counts the
//! owners report:
//!
//! - a **move** sets `moving_to`: the destination fetches the shard from the owner at a
//!   version of its own choosing, installs it, and reports the move id; only then does the
//!   owner change (so reads always have a complete copy to go to). The old owner drops the
//!   shard when its next assignment no longer lists it. A move whose destination dies or
//!   stalls is cancelled.
//! - a **split** cuts a shard in two at the middle key its owner reported (metadata only),
//!   when the biggest shard is too big to move without overshooting.
//!
//! One move at a time. A member is alive while its heartbeats keep coming; the shards of a
//! dead member wait for it (one copy of each shard: there is nowhere else to read them).
//! The log may be truncated below the lowest applied version of any member holding or
//! receiving a shard ([`Controller::durable_floor`]).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use ferrisdb_kv::{KeyRange, ShardStats, Version, KEY_SPACE_END};
use serde::{Deserialize, Serialize};

/// A member that sent no heartbeat for this long is considered dead.
pub const DEAD_AFTER_MICROS: u64 = 3_000_000;
/// A move not finished after this long is cancelled (and planned again).
pub const MOVE_TIMEOUT_MICROS: u64 = 30_000_000;
/// Imbalances smaller than this many keys are left alone.
pub const MIN_IMBALANCE_KEYS: u64 = 64;

/// What a storage server reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub id: u64,
    /// Where the server answers reads.
    pub addr: SocketAddr,
    /// Applied (and durable) version.
    pub applied: Version,
    pub owned: Vec<KeyRange>,
    /// Sizes of its shards, sent every few heartbeats.
    pub stats: Option<Vec<ShardStats>>,
    /// Moves whose shard it has installed.
    pub moved_in: Vec<u64>,
}

/// A shard to fetch from its current owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    pub range: KeyRange,
    pub from: SocketAddr,
    pub move_id: u64,
}

/// What a storage server is told to own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub owned: Vec<KeyRange>,
    pub fetch: Vec<Fetch>,
    /// Owned ranges to take from the start of the log (the cluster's first shard).
    pub bootstrap: Vec<KeyRange>,
    /// The cluster has a shard map: servers may start pulling the log.
    pub initialized: bool,
}

/// Where each shard is read: `None` is "the server that sent this map".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMap {
    pub shards: Vec<(KeyRange, Option<SocketAddr>)>,
}

/// One shard of the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub range: KeyRange,
    pub owner: u64,
    /// An in-flight move: (destination, move id).
    pub moving_to: Option<(u64, u64)>,
    pub bootstrap: bool,
}

/// Everything the controller must not forget across a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerState {
    pub members: BTreeMap<u64, SocketAddr>,
    pub shards: Vec<Shard>,
    pub next_move_id: u64,
}

/// What the controller knows only from recent heartbeats.
struct Live {
    last_seen: u64,
    applied: Version,
    stats: Vec<ShardStats>,
}

/// The controller state machine (see the module doc).
pub struct Controller {
    state: ControllerState,
    live: HashMap<u64, Live>,
    move_started: Option<u64>,
    changed: bool,
}

impl Controller {
    pub fn new(state: ControllerState) -> Controller {
        Controller {
            state,
            live: HashMap::new(),
            move_started: None,
            changed: false,
        }
    }

    pub fn state(&self) -> &ControllerState {
        &self.state
    }

    /// The state, if it changed since the last call (the caller persists it).
    pub fn take_changed(&mut self) -> Option<ControllerState> {
        std::mem::take(&mut self.changed).then(|| self.state.clone())
    }

    fn alive(&self, id: u64, now: u64) -> bool {
        self.live
            .get(&id)
            .is_some_and(|l| now.saturating_sub(l.last_seen) < DEAD_AFTER_MICROS)
    }

    /// Record a heartbeat; finish moves and bootstraps it reports; return its assignment.
    pub fn heartbeat(&mut self, hb: Heartbeat, now: u64) -> Assignment {
        if self.state.members.get(&hb.id) != Some(&hb.addr) {
            tracing::info!(id = hb.id, addr = %hb.addr, "storage server joined");
            self.state.members.insert(hb.id, hb.addr);
            self.changed = true;
        }
        let live = self.live.entry(hb.id).or_insert(Live {
            last_seen: now,
            applied: hb.applied,
            stats: Vec::new(),
        });
        live.last_seen = now;
        live.applied = hb.applied;
        if let Some(stats) = hb.stats {
            live.stats = stats;
        }
        for shard in &mut self.state.shards {
            if let Some((to, move_id)) = shard.moving_to {
                if to == hb.id && hb.moved_in.contains(&move_id) {
                    tracing::info!(range = ?shard.range, from = shard.owner, to, "shard moved");
                    shard.owner = to;
                    shard.moving_to = None;
                    self.move_started = None;
                    self.changed = true;
                }
            }
            if shard.bootstrap && shard.owner == hb.id && hb.owned.contains(&shard.range) {
                shard.bootstrap = false;
                self.changed = true;
            }
        }
        self.assignment(hb.id)
    }

    fn assignment(&self, id: u64) -> Assignment {
        let mut a = Assignment {
            initialized: !self.state.shards.is_empty(),
            ..Assignment::default()
        };
        for s in &self.state.shards {
            if s.owner == id {
                a.owned.push(s.range.clone());
                if s.bootstrap {
                    a.bootstrap.push(s.range.clone());
                }
            }
            if let Some((to, move_id)) = s.moving_to {
                if let (true, Some(from)) = (to == id, self.state.members.get(&s.owner)) {
                    a.fetch.push(Fetch {
                        range: s.range.clone(),
                        from: *from,
                        move_id,
                    });
                }
            }
        }
        a
    }

    /// Time passes: create the first shard, cancel stuck moves, plan the next balancing step.
    pub fn tick(&mut self, now: u64) {
        if self.state.shards.is_empty() {
            let first = self
                .live
                .keys()
                .copied()
                .filter(|id| self.alive(*id, now))
                .min();
            if let Some(owner) = first {
                self.state.shards.push(Shard {
                    range: KeyRange::new(Vec::new(), KEY_SPACE_END.to_vec()),
                    owner,
                    moving_to: None,
                    bootstrap: true,
                });
                self.changed = true;
            }
            return;
        }
        let in_flight: Vec<usize> = (0..self.state.shards.len())
            .filter(|i| self.state.shards[*i].moving_to.is_some())
            .collect();
        if !in_flight.is_empty() {
            let started = *self.move_started.get_or_insert(now);
            for i in in_flight {
                let to = self.state.shards[i].moving_to.map(|m| m.0).unwrap_or(0);
                if !self.alive(to, now) || now.saturating_sub(started) > MOVE_TIMEOUT_MICROS {
                    tracing::warn!(range = ?self.state.shards[i].range, to, "shard move cancelled");
                    self.state.shards[i].moving_to = None;
                    self.move_started = None;
                    self.changed = true;
                }
            }
            return;
        }
        if let Some(step) = self.plan(now) {
            self.execute(step, now);
        }
    }

    /// The next balancing step, a pure function of the shard map and reported sizes.
    fn plan(&self, now: u64) -> Option<Step> {
        let alive: Vec<u64> = self
            .state
            .members
            .keys()
            .copied()
            .filter(|id| self.alive(*id, now))
            .collect();
        if alive.len() < 2 {
            return None;
        }
        let mut load: BTreeMap<u64, u64> = alive.iter().map(|id| (*id, 0)).collect();
        let mut biggest: BTreeMap<u64, (usize, &ShardStats)> = BTreeMap::new();
        for (i, s) in self.state.shards.iter().enumerate() {
            let Some(l) = load.get_mut(&s.owner) else {
                continue;
            };
            // Plan only on complete information: every live owner's shard has fresh stats.
            let st = self
                .live
                .get(&s.owner)?
                .stats
                .iter()
                .find(|st| st.range == s.range)?;
            *l += st.keys;
            if biggest.get(&s.owner).is_none_or(|(_, b)| st.keys > b.keys) {
                biggest.insert(s.owner, (i, st));
            }
        }
        let (&max_id, &max) = load
            .iter()
            .max_by_key(|(id, l)| (**l, std::cmp::Reverse(**id)))?;
        let (&min_id, &min) = load.iter().min_by_key(|(id, l)| (**l, **id))?;
        let diff = max - min;
        if diff < MIN_IMBALANCE_KEYS.max(max / 4) {
            return None;
        }
        let (index, st) = biggest.get(&max_id)?;
        if st.keys * 4 <= diff * 3 {
            return Some(Step::Move {
                index: *index,
                to: min_id,
            });
        }
        st.split_key
            .clone()
            .filter(|k| st.range.contains(k) && *k > st.range.begin)
            .map(|at| Step::Split { index: *index, at })
    }

    fn execute(&mut self, step: Step, now: u64) {
        match step {
            Step::Move { index, to } => {
                let id = self.state.next_move_id;
                self.state.next_move_id += 1;
                let shard = &mut self.state.shards[index];
                tracing::info!(range = ?shard.range, from = shard.owner, to, id, "moving shard");
                shard.moving_to = Some((to, id));
                self.move_started = Some(now);
            }
            Step::Split { index, at } => {
                let shard = self.state.shards[index].clone();
                tracing::info!(range = ?shard.range, at = ?at, "splitting shard");
                let left = Shard {
                    range: KeyRange::new(shard.range.begin.clone(), at.clone()),
                    ..shard.clone()
                };
                let right = Shard {
                    range: KeyRange::new(at, shard.range.end.clone()),
                    ..shard
                };
                self.state.shards.splice(index..=index, [left, right]);
            }
        }
        self.changed = true;
    }

    /// Where clients read each shard.
    pub fn shard_map(&self) -> ShardMap {
        ShardMap {
            shards: self
                .state
                .shards
                .iter()
                .map(|s| (s.range.clone(), self.state.members.get(&s.owner).copied()))
                .collect(),
        }
    }

    /// The log may go below this version: every member holding or receiving a shard has
    /// applied it durably. `None` while any of them has not reported since the controller
    /// started.
    pub fn durable_floor(&self) -> Option<Version> {
        let mut floor: Option<Version> = None;
        for s in &self.state.shards {
            for id in std::iter::once(s.owner).chain(s.moving_to.map(|m| m.0)) {
                let applied = self.live.get(&id)?.applied;
                floor = Some(floor.map_or(applied, |f| f.min(applied)));
            }
        }
        floor
    }

    /// A human-readable report of members and shards.
    pub fn status(&self, now: u64) -> String {
        let mut out = String::new();
        for (id, addr) in &self.state.members {
            let (state, applied) = match self.live.get(id) {
                Some(l) if self.alive(*id, now) => ("alive", l.applied),
                Some(l) => ("dead", l.applied),
                None => ("not seen", 0),
            };
            let shards = self.state.shards.iter().filter(|s| s.owner == *id).count();
            out.push_str(&format!(
                "storage {id:016x} {addr} {state}, applied {applied}, {shards} shards\n"
            ));
        }
        for s in &self.state.shards {
            out.push_str(&format!(
                "shard [{}, {}) on {:016x}{}\n",
                show(&s.range.begin),
                show(&s.range.end),
                s.owner,
                s.moving_to
                    .map(|(to, _)| format!(", moving to {to:016x}"))
                    .unwrap_or_default()
            ));
        }
        out
    }
}

fn show(k: &[u8]) -> String {
    k.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

enum Step {
    Move { index: usize, to: u64 },
    Split { index: usize, at: Vec<u8> },
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
