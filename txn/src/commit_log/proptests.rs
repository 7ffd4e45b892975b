//! Random append / sync / pull / truncate / crash sequences against an in-memory model.
//!
//! A crash is modelled two ways: dropping the `CommitLog` (its buffered records still reach
//! the OS, as on a process crash) and forgetting it (the user-space buffer is lost too). In
//! both, after reopening, every synced entry must be there, the unsynced ones may survive only
//! as a prefix (in append order), and nothing that was never appended may appear.

use super::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Append at `last + gap` with mutations whose size grows with `size`.
    Append {
        gap: u64,
        size: usize,
    },
    Sync,
    Pull {
        from_back: u64,
        max_bytes: usize,
    },
    Truncate {
        from_back: u64,
    },
    CrashDrop,
    CrashForget,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1u64..5, 0usize..300).prop_map(|(gap, size)| Op::Append { gap, size }),
        3 => Just(Op::Sync),
        3 => (0u64..200, 0usize..600).prop_map(|(from_back, max_bytes)| Op::Pull { from_back, max_bytes }),
        1 => (0u64..100).prop_map(|from_back| Op::Truncate { from_back }),
        1 => Just(Op::CrashDrop),
        1 => Just(Op::CrashForget),
    ]
}

fn mutations(v: Version, size: usize) -> Vec<Mutation> {
    let mut ms = vec![Mutation::Set {
        key: v.to_be_bytes().to_vec(),
        value: vec![(v % 251) as u8; size],
    }];
    if size.is_multiple_of(3) {
        ms.push(Mutation::AtomicAdd {
            key: b"n".to_vec(),
            delta: v as i64,
        });
    }
    ms
}

fn entry_bytes(v: Version, ms: &[Mutation]) -> usize {
    8 + encode_entry(v, ms).len()
}

/// The model: entries in order, how many of them are durable, and the truncation point.
#[derive(Default)]
struct Model {
    entries: Vec<(Version, Vec<Mutation>)>,
    durable: usize,
    truncated_below: Version,
}

impl Model {
    /// Check a pull of `from`/`max_bytes` returned an allowed answer.
    fn check_pull(
        &self,
        from: Version,
        max_bytes: usize,
        got: &[(Version, Vec<Mutation>)],
    ) -> std::result::Result<(), TestCaseError> {
        let want: Vec<_> = self.entries[..self.durable]
            .iter()
            .filter(|(v, _)| *v >= from)
            .cloned()
            .collect();
        // Truncation may have removed a prefix of entries below the truncation point.
        let skip = want
            .iter()
            .take_while(|(v, _)| *v < self.truncated_below)
            .count();
        let start = (0..=skip)
            .find(|&s| got.first() == want.get(s))
            .ok_or_else(|| TestCaseError::fail(format!("pull({from}) started wrong")))?;
        let expected = &want[start..];
        prop_assert!(got.len() <= expected.len());
        prop_assert_eq!(got, &expected[..got.len()]);
        if !expected.is_empty() {
            prop_assert!(
                !got.is_empty(),
                "pull returned nothing though entries are durable"
            );
        }
        if got.len() < expected.len() {
            let used: usize = got.iter().map(|(v, m)| entry_bytes(*v, m)).sum();
            let (nv, nm) = &expected[got.len()];
            prop_assert!(used <= max_bytes || got.len() == 1);
            prop_assert!(
                used + entry_bytes(*nv, nm) > max_bytes,
                "pull stopped early"
            );
        }
        Ok(())
    }

    /// After a crash: the synced entries plus a prefix of the others.
    fn check_recovered(
        &mut self,
        got: &[(Version, Vec<Mutation>)],
    ) -> std::result::Result<(), TestCaseError> {
        let mut probe = Model {
            entries: self.entries.clone(),
            durable: self.entries.len(),
            truncated_below: self.truncated_below,
        };
        let start = got.first().map(|(v, _)| *v).unwrap_or(Version::MAX);
        probe
            .entries
            .retain(|(v, _)| *v >= start || *v >= probe.truncated_below);
        let kept = got.len();
        prop_assert!(kept <= probe.entries.len());
        prop_assert_eq!(
            got,
            &probe.entries[..kept],
            "recovered entries are not a prefix"
        );
        let synced_last = self.entries[..self.durable].last().map(|(v, _)| *v);
        let got_last = got.last().map(|(v, _)| *v);
        prop_assert!(
            got_last >= synced_last,
            "lost synced entries: {:?} < {:?}",
            got_last,
            synced_last
        );
        let survivors = self
            .entries
            .iter()
            .take_while(|(v, _)| Some(*v) <= got_last)
            .count();
        self.entries.truncate(survivors);
        self.durable = survivors;
        Ok(())
    }
}

fn options() -> CommitLogOptions {
    CommitLogOptions {
        segment_bytes: 700,
        preallocate: true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn commit_log_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = CommitLog::open_with(dir.path(), options()).unwrap();
        let mut model = Model::default();
        for op in ops {
            let last = model.entries.last().map_or(0, |(v, _)| *v);
            match op {
                Op::Append { gap, size } => {
                    let v = last + gap;
                    let ms = mutations(v, size);
                    log.append(v, &ms).unwrap();
                    model.entries.push((v, ms));
                }
                Op::Sync => {
                    log.sync().unwrap();
                    model.durable = model.entries.len();
                }
                Op::Pull { from_back, max_bytes } => {
                    let from = last.saturating_sub(from_back);
                    let got = log.pull(from, max_bytes).unwrap();
                    model.check_pull(from, max_bytes, &got)?;
                }
                Op::Truncate { from_back } => {
                    let v = last.saturating_sub(from_back);
                    log.truncate_below(v).unwrap();
                    model.truncated_below = model.truncated_below.max(v);
                }
                Op::CrashDrop | Op::CrashForget => {
                    if matches!(op, Op::CrashForget) {
                        // Lose the writer's user-space buffer; the directory lock is released.
                        std::mem::forget(log.writer.take());
                    }
                    drop(log);
                    log = CommitLog::open_with(dir.path(), options()).unwrap();
                    let got = log.pull(0, usize::MAX).unwrap();
                    model.check_recovered(&got)?;
                    prop_assert_eq!(log.last_version(), model.entries.last().map(|(v, _)| *v));
                }
            }
            // Sealing a full segment syncs it, so the log may be durable beyond the last
            // `sync`, never short of it; from here on the model holds it to that promise.
            let durable = log.durable_version();
            let synced = model.entries[..model.durable].last().map(|(v, _)| *v);
            prop_assert!(durable >= synced, "durable {:?} < synced {:?}", durable, synced);
            model.durable = model.entries.iter().take_while(|(v, _)| Some(*v) <= durable).count();
        }
    }
}
