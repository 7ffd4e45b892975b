use super::*;

const S: u64 = 1_000_000;

fn addr(id: u64) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5000 + id as u16))
}

fn hb(id: u64, owned: &[KeyRange], stats: Option<Vec<ShardStats>>, moved_in: &[u64]) -> Heartbeat {
    Heartbeat {
        id,
        addr: addr(id),
        applied: 100,
        owned: owned.to_vec(),
        stats,
        moved_in: moved_in.to_vec(),
    }
}

fn stat(range: &KeyRange, keys: u64, split: Option<&str>) -> ShardStats {
    ShardStats {
        range: range.clone(),
        keys,
        bytes: keys * 10,
        split_key: split.map(|s| s.as_bytes().to_vec()),
    }
}

fn all() -> KeyRange {
    KeyRange::new(Vec::new(), KEY_SPACE_END.to_vec())
}

#[test]
fn the_first_member_bootstraps_the_whole_key_space() {
    let mut c = Controller::new(ControllerState::default());
    c.heartbeat(hb(7, &[], None, &[]), 0);
    c.tick(0);
    let a = c.heartbeat(hb(7, &[], None, &[]), 1);
    assert_eq!(a.owned, vec![all()]);
    assert_eq!(a.bootstrap, vec![all()]);
    // Once it reports owning the shard, the bootstrap flag goes.
    let a = c.heartbeat(hb(7, &[all()], None, &[]), 2);
    assert!(a.bootstrap.is_empty());
    assert!(c.take_changed().is_some());
    assert_eq!(c.shard_map().shards, vec![(all(), Some(addr(7)))]);
}

#[test]
fn an_unbalanced_cluster_splits_then_moves_and_the_owner_changes_only_when_installed() {
    let mut c = Controller::new(ControllerState::default());
    c.heartbeat(hb(1, &[], None, &[]), 0);
    c.tick(0);
    c.heartbeat(
        hb(1, &[all()], Some(vec![stat(&all(), 1000, Some("m"))]), &[]),
        S,
    );
    c.heartbeat(hb(2, &[], Some(vec![]), &[]), S);
    c.tick(S);
    // One shard of 1000 keys against an empty member: too big to move whole, so split.
    assert_eq!(c.state().shards.len(), 2);
    let left = KeyRange::new(Vec::new(), b"m".to_vec());
    let right = KeyRange::new(b"m".to_vec(), KEY_SPACE_END.to_vec());
    // No plan until the owner reports sizes of the new shards.
    c.tick(S + 1);
    assert!(c.state().shards.iter().all(|s| s.moving_to.is_none()));
    let stats = vec![stat(&left, 500, Some("f")), stat(&right, 500, Some("t"))];
    c.heartbeat(
        hb(1, &[left.clone(), right.clone()], Some(stats), &[]),
        2 * S,
    );
    c.heartbeat(hb(2, &[], Some(vec![]), &[]), 2 * S);
    c.tick(2 * S);
    let moving: Vec<_> = c
        .state()
        .shards
        .iter()
        .filter(|s| s.moving_to.is_some())
        .collect();
    assert_eq!(moving.len(), 1);
    let (to, move_id) = moving[0].moving_to.unwrap();
    assert_eq!(to, 2);
    let range = moving[0].range.clone();
    let a = c.heartbeat(hb(2, &[], None, &[]), 2 * S + 1);
    assert_eq!(
        a.fetch,
        vec![Fetch {
            range: range.clone(),
            from: addr(1),
            move_id
        }]
    );
    assert!(
        a.owned.is_empty(),
        "not the owner before it installs the shard"
    );
    assert!(c
        .shard_map()
        .shards
        .iter()
        .all(|(_, a)| *a == Some(addr(1))));
    let a = c.heartbeat(hb(2, std::slice::from_ref(&range), None, &[move_id]), 3 * S);
    assert_eq!(a.owned, vec![range.clone()]);
    assert!(c
        .shard_map()
        .shards
        .contains(&(range.clone(), Some(addr(2)))));
    let a1 = c.heartbeat(hb(1, &[left, right], None, &[]), 3 * S);
    assert!(
        !a1.owned.contains(&range),
        "the old owner is told to drop it"
    );
}

#[test]
fn a_move_to_a_dead_member_is_cancelled() {
    let mut c = Controller::new(ControllerState::default());
    c.heartbeat(hb(1, &[], None, &[]), 0);
    c.tick(0);
    let a = KeyRange::new(Vec::new(), b"m".to_vec());
    let b = KeyRange::new(b"m".to_vec(), KEY_SPACE_END.to_vec());
    c.state.shards = vec![
        Shard {
            range: a.clone(),
            owner: 1,
            moving_to: None,
            bootstrap: false,
        },
        Shard {
            range: b.clone(),
            owner: 1,
            moving_to: None,
            bootstrap: false,
        },
    ];
    c.heartbeat(
        hb(
            1,
            &[a.clone(), b.clone()],
            Some(vec![stat(&a, 300, None), stat(&b, 300, None)]),
            &[],
        ),
        S,
    );
    c.heartbeat(hb(2, &[], Some(vec![]), &[]), S);
    c.tick(S);
    assert!(c.state().shards.iter().any(|s| s.moving_to.is_some()));
    // Member 2 stops sending heartbeats; member 1 keeps going.
    c.heartbeat(hb(1, &[a, b], None, &[]), S + DEAD_AFTER_MICROS);
    c.tick(S + DEAD_AFTER_MICROS + 1);
    assert!(c.state().shards.iter().all(|s| s.moving_to.is_none()));
}

#[test]
fn a_balanced_cluster_is_left_alone_and_the_log_floor_is_the_slowest_owner() {
    let mut c = Controller::new(ControllerState::default());
    let a = KeyRange::new(Vec::new(), b"m".to_vec());
    let b = KeyRange::new(b"m".to_vec(), KEY_SPACE_END.to_vec());
    c.state.shards = vec![
        Shard {
            range: a.clone(),
            owner: 1,
            moving_to: None,
            bootstrap: false,
        },
        Shard {
            range: b.clone(),
            owner: 2,
            moving_to: None,
            bootstrap: false,
        },
    ];
    assert_eq!(c.durable_floor(), None, "unknown until both owners report");
    let mut h1 = hb(
        1,
        std::slice::from_ref(&a),
        Some(vec![stat(&a, 500, Some("f"))]),
        &[],
    );
    h1.applied = 40;
    c.heartbeat(h1, S);
    c.heartbeat(
        hb(
            2,
            std::slice::from_ref(&b),
            Some(vec![stat(&b, 520, Some("t"))]),
            &[],
        ),
        S,
    );
    c.tick(S);
    assert!(c.state().shards.iter().all(|s| s.moving_to.is_none()));
    assert_eq!(c.state().shards.len(), 2);
    assert_eq!(c.durable_floor(), Some(40));
}
